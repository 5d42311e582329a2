package render

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Parsers of an application's Workflow runs and of its template's pin.

// ParseBuild reads a Workflow of an application.
func ParseBuild(wf *unstructured.Unstructured) Build {
	b := Build{Workflow: wf.GetName()}
	b.Phase, _, _ = unstructured.NestedString(wf.Object, "status", "phase")
	if b.Phase == "" {
		b.Phase = "Pending" // not picked up by the controller yet
	}
	b.StartedAt, _, _ = unstructured.NestedString(wf.Object, "status", "startedAt")
	b.FinishedAt, _, _ = unstructured.NestedString(wf.Object, "status", "finishedAt")
	b.Message, _, _ = unstructured.NestedString(wf.Object, "status", "message")
	if b.Message == "" {
		b.Message = failedSteps(wf)
	}
	if b.Message == "" && superseded(wf) {
		b.Message = "superseded: its commit was no longer the branch head, so it built nothing (a newer push's run deploys)"
	}
	params, _, _ := unstructured.NestedSlice(wf.Object, "spec", "arguments", "parameters")
	for _, p := range params {
		if m, ok := p.(map[string]any); ok && m["name"] == GitShaParameter {
			b.Commit, _ = m["value"].(string)
		}
	}
	return b
}

// ParseWorkflowTemplatePinned reports whether a live WorkflowTemplate is
// one of a pinned application: it builds (kaniko) but neither deploys nor
// dispatches (for import, which cannot see the configuration).
func ParseWorkflowTemplatePinned(tmpl *unstructured.Unstructured) bool {
	if tmpl == nil {
		return false
	}
	steps, _, _ := unstructured.NestedSlice(tmpl.Object, "spec", "templates")
	builds := false
	for _, s := range steps {
		m, _ := s.(map[string]any)
		switch {
		case m["name"] == "kaniko":
			builds = true
		case m["resource"] != nil, m["name"] == "update-config":
			return false
		}
	}
	return builds
}
