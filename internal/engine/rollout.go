package engine

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// RolloutComplete is a Condition for Deployments and StatefulSets: the
// controller has seen the latest spec and every replica runs it and is
// ready. The reason names what is still pending, and why a pod is stuck
// when the Deployment says so (e.g. ProgressDeadlineExceeded).
func RolloutComplete(obj *unstructured.Unstructured) (bool, string, error) {
	if obj == nil {
		return false, "the object does not exist", nil
	}
	num := func(fields ...string) int64 {
		n, _, _ := unstructured.NestedInt64(obj.Object, fields...)
		return n
	}
	want := int64(1)
	if n, ok, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas"); ok {
		want = n
	}
	if g, og := obj.GetGeneration(), num("status", "observedGeneration"); og < g {
		return false, fmt.Sprintf("the controller has not seen generation %d yet (observed %d)", g, og), nil
	}
	updated, ready := num("status", "updatedReplicas"), num("status", "readyReplicas")
	if obj.GetKind() == "StatefulSet" {
		if cur, upd := stringField(obj, "status", "currentRevision"), stringField(obj, "status", "updateRevision"); upd != "" && cur != upd && updated < want {
			return false, fmt.Sprintf("%d of %d replicas updated to revision %s", updated, want, upd), nil
		}
	} else if updated < want {
		return false, fmt.Sprintf("%d of %d replicas updated%s", updated, want, progressMessage(obj)), nil
	}
	if ready < want {
		return false, fmt.Sprintf("%d of %d replicas ready%s", ready, want, progressMessage(obj)), nil
	}
	if total := num("status", "replicas"); total > want {
		return false, fmt.Sprintf("%d old replicas still terminating", total-want), nil
	}
	return true, "", nil
}

func stringField(obj *unstructured.Unstructured, fields ...string) string {
	s, _, _ := unstructured.NestedString(obj.Object, fields...)
	return s
}

// progressMessage quotes a Deployment's Progressing condition when it
// reports a failure.
func progressMessage(obj *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		if cm["type"] == "Progressing" && cm["status"] == "False" || cm["type"] == "ReplicaFailure" && cm["status"] == "True" {
			return fmt.Sprintf(" (%v: %v)", cm["reason"], cm["message"])
		}
	}
	return ""
}
