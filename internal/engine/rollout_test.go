package engine

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Unit test, no stack: what a timed-out rollout says about its pods.
func TestPodProblem(t *testing.T) {
	pod := func(status map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"status": status}}
	}
	cond := func(typ, status, msg string) any {
		return map[string]any{"type": typ, "status": status, "message": msg}
	}
	for _, c := range []struct {
		name   string
		status map[string]any
		want   string
	}{
		{"ready", map[string]any{"phase": "Running", "conditions": []any{cond("PodScheduled", "True", ""), cond("Ready", "True", "")}}, ""},
		{"unschedulable", map[string]any{"phase": "Pending", "conditions": []any{
			cond("PodScheduled", "False", "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."),
		}}, "Pending, not scheduled: 0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."},
		{"not scheduled yet", map[string]any{"phase": "Pending"}, "Pending, not scheduled yet"},
		{"image pull", map[string]any{"phase": "Pending", "conditions": []any{cond("PodScheduled", "True", "")},
			"containerStatuses": []any{map[string]any{"name": "db", "state": map[string]any{
				"waiting": map[string]any{"reason": "ImagePullBackOff", "message": "Back-off pulling image \"mysql:9.9\""}}}}},
			`container db waiting: ImagePullBackOff (Back-off pulling image "mysql:9.9")`},
		{"crashed", map[string]any{"phase": "Running", "conditions": []any{cond("PodScheduled", "True", ""), cond("Ready", "False", "")},
			"containerStatuses": []any{map[string]any{"name": "db", "state": map[string]any{"running": map[string]any{}},
				"lastState": map[string]any{"terminated": map[string]any{"reason": "Error", "exitCode": int64(1)}}}}},
			"container db last terminated: Error (exit code 1)"},
		{"starting", map[string]any{"phase": "Running", "conditions": []any{cond("PodScheduled", "True", ""), cond("Ready", "False", "")}}, "Running, not ready"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := podProblem(pod(c.status)); got != c.want {
				t.Errorf("podProblem = %q, want %q", got, c.want)
			}
		})
	}
}
