package render

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Build is one run of an application's WorkflowTemplate, as its Workflow
// reports it.
type Build struct {
	Workflow   string
	Phase      string // Pending, Running, Succeeded, Failed, Error
	Commit     string
	StartedAt  string // RFC 3339, "" until it starts
	FinishedAt string // RFC 3339, "" until it ends
	Message    string // why it failed, or what it waits for
}

// LastBuild is the newest of an application's Workflows (nil for none).
// Creation times have a resolution of one second, and two pushes often
// land in the same one; an application's runs take turns in creation
// order (one mutex), so within a second the run still going, or else the
// one that finished last, is the newer. Names break what remains, the same
// way on every read.
//
// A superseded run (headStep) built nothing, and finishes after the newer
// commit's run that took the mutex first: it is the last build only when
// no run built.
func LastBuild(wfs []unstructured.Unstructured) *Build {
	var newest *unstructured.Unstructured
	for i := range wfs {
		switch {
		case newest == nil:
			newest = &wfs[i]
		case superseded(&wfs[i]) != superseded(newest):
			if superseded(newest) {
				newest = &wfs[i]
			}
		case newer(&wfs[i], newest):
			newest = &wfs[i]
		}
	}
	if newest == nil {
		return nil
	}
	b := ParseBuild(newest)
	return &b
}

// newer orders two runs of one application (see LastBuild).
func newer(a, b *unstructured.Unstructured) bool {
	ca, cb := a.GetCreationTimestamp().Time, b.GetCreationTimestamp().Time
	if !ca.Equal(cb) {
		return ca.After(cb)
	}
	fa, _, _ := unstructured.NestedString(a.Object, "status", "finishedAt")
	fb, _, _ := unstructured.NestedString(b.Object, "status", "finishedAt")
	if (fa == "") != (fb == "") {
		return fa == ""
	}
	if fa != fb {
		return fa > fb // RFC 3339 in UTC sorts as text
	}
	return a.GetName() > b.GetName()
}

// superseded: the branch-head check skipped the build (headStep).
func superseded(wf *unstructured.Unstructured) bool {
	nodes, _, _ := unstructured.NestedMap(wf.Object, "status", "nodes")
	for _, n := range nodes {
		m, _ := n.(map[string]any)
		if m["displayName"] == "build" && m["phase"] == "Skipped" {
			return true
		}
	}
	return false
}

// failedSteps says which steps of a run failed and why ("rollout: Pod was
// active on the node longer than the specified deadline"), in step order:
// Argo often leaves the Workflow's own message empty.
func failedSteps(wf *unstructured.Unstructured) string {
	nodes, _, _ := unstructured.NestedMap(wf.Object, "status", "nodes")
	var out []string
	for _, n := range nodes {
		m, _ := n.(map[string]any)
		if m["type"] != "Pod" || (m["phase"] != "Failed" && m["phase"] != "Error") {
			continue
		}
		msg, _ := m["message"].(string)
		name, _ := m["displayName"].(string)
		out = append(out, strings.TrimSuffix(name+": "+msg, ": "))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
