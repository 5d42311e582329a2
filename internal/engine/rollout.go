package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
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

// WaitRollout waits until the Deployment or StatefulSet at ref has rolled
// out (RolloutComplete) or ctx ends. On timeout the error also says why its
// pods are not ready (unschedulable, image pull errors, crash loops), so the
// user sees the cause without a kubectl session.
func (e *Engine) WaitRollout(ctx context.Context, ref Ref) error {
	if FaultPoints {
		fault(ctx, FaultRolloutWait, ref.String())
	}
	return e.WaitPods(ctx, ref, RolloutComplete)
}

// WaitPods is Wait for a Deployment or StatefulSet: on timeout the error
// also says why its pods are not ready.
func (e *Engine) WaitPods(ctx context.Context, ref Ref, cond Condition) error {
	err := e.Wait(ctx, ref, cond)
	if err == nil || ctx.Err() == nil {
		return err
	}
	// ctx has ended: look the pods up within a short grace period of our own.
	lookup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if why := e.podProblems(lookup, ref); why != "" {
		return fmt.Errorf("%w; %s", err, why)
	}
	return err
}

// podProblems describes the pods of a workload that are not ready.
func (e *Engine) podProblems(ctx context.Context, ref Ref) string {
	live, err := e.Get(ctx, ref)
	if err != nil || live == nil {
		return ""
	}
	match, _, _ := unstructured.NestedStringMap(live.Object, "spec", "selector", "matchLabels")
	if len(match) == 0 {
		return ""
	}
	pods, err := e.List(ctx, "v1", "Pod", ref.Namespace, labels.SelectorFromSet(match).String())
	if err != nil {
		return ""
	}
	if len(pods) == 0 {
		return "no pods exist (see the events of " + ref.String() + ")"
	}
	var out []string
	for i := range pods {
		if why := podProblem(&pods[i]); why != "" {
			out = append(out, "pod "+pods[i].GetName()+": "+why)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// podProblem says why a pod is not ready, or "" if it is.
func podProblem(pod *unstructured.Unstructured) string {
	if pod.GetDeletionTimestamp() != nil {
		return "terminating"
	}
	phase, _, _ := unstructured.NestedString(pod.Object, "status", "phase")
	conds, _, _ := unstructured.NestedSlice(pod.Object, "status", "conditions")
	cond := func(typ string) map[string]any {
		for _, c := range conds {
			if cm, _ := c.(map[string]any); cm["type"] == typ {
				return cm
			}
		}
		return nil
	}
	if c := cond("Ready"); c != nil && c["status"] == "True" {
		return ""
	}
	if c := cond("PodScheduled"); c == nil || c["status"] != "True" {
		if c != nil && c["message"] != nil {
			return fmt.Sprintf("%s, not scheduled: %v", phase, c["message"])
		}
		return phase + ", not scheduled yet"
	}
	statuses, _, _ := unstructured.NestedSlice(pod.Object, "status", "containerStatuses")
	for _, s := range statuses {
		sm, _ := s.(map[string]any)
		if w, ok, _ := unstructured.NestedMap(sm, "state", "waiting"); ok && w["reason"] != nil {
			msg := fmt.Sprintf("container %v waiting: %v", sm["name"], w["reason"])
			if w["message"] != nil {
				msg += fmt.Sprintf(" (%v)", w["message"])
			}
			return msg
		}
		if t, ok, _ := unstructured.NestedMap(sm, "lastState", "terminated"); ok && t["reason"] != nil {
			return fmt.Sprintf("container %v last terminated: %v (exit code %v)", sm["name"], t["reason"], t["exitCode"])
		}
	}
	return phase + ", not ready"
}

// RestartFieldManager owns the one pod-template annotation that restarts
// pods (render.RestartPatch), apart from FieldManager's fields: applying
// the rendered object (tofu, or CI's deploy steps) neither removes it nor
// reads it as drift.
const RestartFieldManager = FieldManager + "-restart"

// GateFieldManager owns the deploy generation in an application's release
// record (render.ReleaseGate), apart from the commit that CI's record step
// and tofu apply as FieldManager: an apply of the commit alone must not
// remove it.
const GateFieldManager = FieldManager + "-gate"

// Restart server-side applies patch, a partial object that changes only a
// pod-template annotation, as RestartFieldManager: a rolling restart.
func (e *Engine) Restart(ctx context.Context, patch *unstructured.Unstructured) error {
	return e.ApplyAs(ctx, RestartFieldManager, patch)
}

// ApplyAs server-side applies patch, a partial object, as manager: fields
// that FieldManager's applies neither own nor remove.
func (e *Engine) ApplyAs(ctx context.Context, manager string, patch *unstructured.Unstructured) error {
	ref := RefOf(patch)
	ri, err := e.resource(ctx, ref, false)
	if err != nil {
		return err
	}
	body, err := json.Marshal(patch.Object)
	if err != nil {
		return err
	}
	force := true
	tflog.Debug(ctx, "server-side apply", map[string]any{"object": ref.String(), "field_manager": manager})
	if _, err := ri.Patch(ctx, ref.Name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: manager, Force: &force}); err != nil {
		return fmt.Errorf("applying %s as %s: %w", ref, manager, apiError(err))
	}
	return nil
}
