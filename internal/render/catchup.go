package render

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The level-triggered catch-up. GitHub does not redeliver a push that
// failed, and a Sensor only sees what is published after it subscribes: a
// push that arrives while the EventSource, the Sensor or the EventBus
// restarts is acknowledged or refused, and then gone. So every minute a
// CronWorkflow compares the branch head (headStep) with the commit the
// release record names, and runs the head when they differ.
//
// A run in flight looks the same as a lost push until it records its
// commit, so the catch-up holds the application's mutex, as its runs do
// (it compares only once the runs before it have ended), and it notes an
// unbuilt head first, starting a run for it only when the next tick finds
// the same head still unbuilt: a push that lands while the catch-up waits
// for the mutex has its run queued behind the catch-up, which deploys it
// before the next tick. It starts a run for a head once (noted as "<sha>
// submitted"): a head whose build fails waits for the next push. An
// application with no commit recorded is left alone unless tofu started
// its first build (build_on_create, which notes that commit: CatchUpNote):
// with build_on_create off, nothing builds before the first push. Pinned
// and dispatching applications have no catch-up: CI deploys nothing for
// them.
const (
	// CatchUpSchedule is the catch-up's cron schedule: a lost push runs at
	// the second tick.
	CatchUpSchedule = "* * * * *"
	catchUpKey      = "catch-up"
	// catchUpDeadline bounds one catch-up run once it holds the mutex (its
	// pods on a busy node); the ticks it overlaps are skipped (Forbid).
	catchUpDeadline = 300
	// CatchUpFieldManager owns the catch-up's note in the release record.
	CatchUpFieldManager = "terraform-provider-idp-catch-up"
	submittedSuffix     = " submitted"
)

// CatchUpNote is what tofu applies to the release ConfigMap, as
// CatchUpFieldManager, when it starts application n's first build of
// commit: the catch-up counts that run as its own (it does not start
// another), and should a newer head stay unbuilt (a push right after the
// create supersedes the run, and the Sensor missed that push), it builds
// the head.
func CatchUpNote(p, n, commit string) *unstructured.Unstructured {
	return releaseConfigMap(p, n, map[string]any{catchUpKey: commit + submittedSuffix})
}

// hasCatchUp says whether a's objects include the catch-up CronWorkflow.
func hasCatchUp(a Application) bool { return a.Dispatch == nil && !a.Pinned }

func catchUp(a Application, gh GitHubServer) (*unstructured.Unstructured, error) {
	p, n := a.Project, a.Name
	deploySA := DeployServiceAccount(p, n)
	head := fmt.Sprintf("{{tasks.%s.outputs.result}}", headTask)
	commit, noted := "{{workflow.parameters.commit}}", "{{workflow.parameters.noted}}"
	unbuilt := fmt.Sprintf("'%s' != '%s' && ('%s' != '' || '%s' != '')", head, commit, commit, noted)
	arg := func(v string) map[string]any {
		return map[string]any{"parameters": []any{map[string]any{"name": "value", "value": v}}}
	}
	note := task("note", "note", headTask)
	note["when"] = fmt.Sprintf("%s && '%s' != '%s' && '%s' != '%s%s'", unbuilt, noted, head, noted, head, submittedSuffix)
	note["arguments"] = arg(head)
	submit := task("submit", "submit", headTask)
	submit["when"] = fmt.Sprintf("%s && '%s' == '%s'", unbuilt, noted, head)
	submit["arguments"] = arg(head)
	submitted := task("submitted", "note")
	submitted["depends"] = "submit.Succeeded" // a plain name would take a skipped submit
	submitted["arguments"] = arg(head + submittedSuffix)

	noteStep, err := applyStep("note", deploySA, CatchUpFieldManager,
		releaseConfigMap(p, n, map[string]any{catchUpKey: "{{inputs.parameters.value}}"}))
	if err != nil {
		return nil, err
	}
	noteStep["inputs"] = map[string]any{"parameters": []any{map[string]any{"name": "value"}}}
	run, err := yaml.Marshal(BuildWorkflow(p, n, "{{inputs.parameters.value}}").Object)
	if err != nil {
		return nil, err
	}
	// The release record's keys, read by the workflow controller when the
	// run starts: no pod of its own.
	record := func(name, key string) map[string]any {
		return map[string]any{"name": name, "valueFrom": map[string]any{
			"configMapKeyRef": map[string]any{"name": ReleaseConfigMap(p, n), "key": key}, "default": "",
		}}
	}
	templates := []any{
		map[string]any{"name": "catch-up", "dag": map[string]any{"tasks": []any{
			task(headTask, headTask), note, submit, submitted,
		}}},
		headStep(a, gh),
		noteStep,
		map[string]any{
			"name": "submit", "serviceAccountName": deploySA,
			"inputs":   map[string]any{"parameters": []any{map[string]any{"name": "value"}}},
			"resource": map[string]any{"action": "create", "manifest": string(run)},
		},
	}
	return object("argoproj.io/v1alpha1", "CronWorkflow", Namespace(p), CatchUpCronWorkflow(p, n), nil, map[string]any{
		"spec": map[string]any{
			"schedules":                  []any{CatchUpSchedule},
			"concurrencyPolicy":          "Forbid",
			"startingDeadlineSeconds":    int64(30),
			"successfulJobsHistoryLimit": int64(1),
			"failedJobsHistoryLimit":     int64(1),
			"workflowSpec": map[string]any{
				// The agent (the head check) runs as the executor.
				"serviceAccountName":    ExecutorServiceAccount(p),
				"entrypoint":            "catch-up",
				"activeDeadlineSeconds": int64(catchUpDeadline),
				"synchronization":       map[string]any{"mutexes": []any{map[string]any{"name": DeployMutex(p, n)}}},
				"arguments": map[string]any{"parameters": []any{
					record("commit", releaseCommitKey), record("noted", catchUpKey),
				}},
				"ttlStrategy": map[string]any{"secondsAfterSuccess": int64(60), "secondsAfterFailure": int64(workflowTTLAfterFailure)},
				"podGC":       map[string]any{"strategy": "OnPodSuccess"},
				"templates":   templates,
			},
		},
	}), nil
}
