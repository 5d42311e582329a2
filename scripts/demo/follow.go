package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/idpkit/terraform-provider-idp/internal/fakegithub"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

var (
	workflowGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}
)

// How long one push may take from the push to the new version serving
// (the first kaniko build on a fresh stack is the slow one).
const pushTimeout = 12 * time.Minute

// pushAndFollow pushes the test app answering version, then prints, as
// they change, the Workflow's steps, the Deployment and its pods, and what
// Traefik answers for the domain, until the new version serves (and, for a
// rollout, until the old pods are gone). It returns the commit's SHA.
func (d *demo) pushAndFollow(ctx context.Context, n, version string, rollout bool) (string, error) {
	files, err := stack.TestAppRepo(version + "\n")
	if err != nil {
		return "", err
	}
	what := "the app"
	if rollout {
		what = "a new version: a rollout"
	}
	d.say("Push %s: %s, answering %q", n, what, version)
	start := time.Now()
	sha, err := d.gh.Push(owner, repo, "main", files, fmt.Sprintf("shop-api: answer %q", version))
	if err != nil {
		return "", err
	}
	fmt.Printf("    commit %s on main; GitHub POSTs the signed push webhook through Traefik\n", sha[:8])
	if err := d.delivered(ctx, sha, start); err != nil {
		d.dump(ctx)
		return "", err
	}

	ns := render.Namespace(project)
	f := follower{d: d, ns: ns, sha: sha, start: start, seen: map[string]string{}}
	deadline := time.Now().Add(pushTimeout)
	redeliver, redelivered := time.Now().Add(noWorkflowAfter), 0
	for {
		phase := f.workflows(ctx)
		if phase == "" && time.Now().After(redeliver) && redelivered < 2 {
			// The Sensor was not subscribed when the event arrived (the
			// EventBus drops events nobody listens to yet).
			redelivered++
			redeliver = time.Now().Add(noWorkflowAfter)
			fmt.Printf("    +%s no Workflow %s after the webhook: delivering it again\n", since(start), noWorkflowAfter)
			if err := d.redeliver(ctx, sha, start); err != nil {
				d.dump(ctx)
				return "", err
			}
		}
		answer := f.answer(ctx)
		done := f.deployment(ctx)
		serving := strings.TrimSpace(answer) == version
		switch {
		case phase == "Failed" || phase == "Error":
			d.dump(ctx)
			return "", fmt.Errorf("the Workflow for %s ended %s", sha[:8], phase)
		case serving && phase == "Succeeded" && (done || !rollout):
			fmt.Printf("    push %s -> serving %q at %s: %s\n", n, version, domain, time.Since(start).Round(time.Second))
			return sha, nil
		case time.Now().After(deadline):
			d.dump(ctx)
			return "", fmt.Errorf("%s did not serve %q within %s of the push", domain, version, pushTimeout)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// How long a Workflow may take to appear after its push webhook was
// accepted before the demo delivers the webhook again.
const noWorkflowAfter = 45 * time.Second

// redeliver sends the last push webhook for sha again, as GitHub's
// "Redeliver" does, and checks it was accepted.
func (d *demo) redeliver(ctx context.Context, sha string, start time.Time) error {
	for _, dl := range slices.Backward(d.gh.Deliveries()) {
		if dl.Event == "push" && bytes.Contains(dl.Body, []byte(sha)) {
			d.gh.DeliverRaw(dl.URL, dl.Header, dl.Body)
			return d.delivered(ctx, sha, start)
		}
	}
	return fmt.Errorf("no push webhook was sent for %s", sha[:8])
}

// delivered checks that the push webhook for sha reached the EventSource.
// A receiver that is not routable yet (Traefik answers 404 or 503 until it
// sees the route's endpoints) gets the same signed delivery again, as
// GitHub's "Redeliver" does.
func (d *demo) delivered(ctx context.Context, sha string, start time.Time) error {
	for attempt := 1; ; attempt++ {
		var last *fakegithub.Delivery
		for _, dl := range d.gh.Deliveries() {
			if dl.Event == "push" && bytes.Contains(dl.Body, []byte(sha)) {
				last = &dl
			}
		}
		switch {
		case last == nil:
			return fmt.Errorf("no push webhook was sent for %s: is the hook active?", sha[:8])
		case last.StatusCode == http.StatusOK:
			fmt.Printf("    +%s webhook delivered: HTTP 200\n", since(start))
			return nil
		case attempt > 20:
			return fmt.Errorf("the push webhook for %s failed %d times; last: HTTP %d (%v): %s",
				sha[:8], attempt, last.StatusCode, last.Err, bytes.TrimSpace(last.Response))
		}
		fmt.Printf("    +%s webhook answered HTTP %d %s; redelivering in 3s\n", since(start), last.StatusCode,
			firstLine(string(last.Response), last.Err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Second):
		}
		d.gh.DeliverRaw(last.URL, last.Header, last.Body)
	}
}

func firstLine(s string, err error) string {
	if err != nil {
		return "(" + err.Error() + ")"
	}
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

// follower prints what changed since its last look.
type follower struct {
	d     *demo
	ns    string
	sha   string
	start time.Time
	seen  map[string]string
}

func (f *follower) print(key, line string) {
	if f.seen[key] != line {
		f.seen[key] = line
		fmt.Printf("    +%s %s\n", since(f.start), line)
	}
}

// workflows prints the steps of the Workflow building f.sha and returns its
// phase ("" until the Sensor created it).
func (f *follower) workflows(ctx context.Context) string {
	list, err := f.d.dyn.Resource(workflowGVR).Namespace(f.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		f.print("workflows", "listing Workflows: "+err.Error())
		return ""
	}
	for _, wf := range list.Items {
		params, _, _ := unstructured.NestedSlice(wf.Object, "spec", "arguments", "parameters")
		ours := false
		for _, p := range params {
			if m, ok := p.(map[string]any); ok && m["name"] == render.GitShaParameter && m["value"] == f.sha {
				ours = true
			}
		}
		if !ours {
			continue
		}
		phase, _, _ := unstructured.NestedString(wf.Object, "status", "phase")
		nodes, _, _ := unstructured.NestedMap(wf.Object, "status", "nodes")
		var steps []step
		for _, n := range nodes {
			m, _ := n.(map[string]any)
			if m["type"] != "Pod" {
				continue
			}
			s := step{name: fmt.Sprint(m["displayName"]), phase: fmt.Sprint(m["phase"])}
			if msg, _ := m["message"].(string); msg != "" && s.phase != "Succeeded" {
				s.phase += " (" + msg + ")"
			}
			steps = append(steps, s)
		}
		sort.Slice(steps, func(i, j int) bool { return steps[i].less(steps[j]) })
		parts := make([]string, len(steps))
		for i, s := range steps {
			parts[i] = s.name + "=" + s.phase
		}
		if phase == "" {
			phase = "Pending"
		}
		f.print("wf/"+wf.GetName(), fmt.Sprintf("workflow %s: %-9s %s", wf.GetName(), phase, strings.Join(parts, "  ")))
		return phase
	}
	return ""
}

type step struct{ name, phase string }

// less orders a build's steps as they run: build, deploy, route-0, ...
func (s step) less(o step) bool {
	rank := func(n string) int {
		switch {
		case n == "build":
			return 0
		case n == "deploy":
			return 1
		}
		return 2
	}
	if rank(s.name) != rank(o.name) {
		return rank(s.name) < rank(o.name)
	}
	return s.name < o.name
}

// answer prints what Traefik answers for the domain when it changes.
func (f *follower) answer(ctx context.Context) string {
	got, err := stack.Serving(ctx, domain)
	line := fmt.Sprintf("%q", strings.TrimSpace(got))
	if err != nil {
		line = err.Error()
	}
	f.print("curl", fmt.Sprintf("curl -H 'Host: %s' %s/ -> %s", domain, f.d.traefik(), line))
	return got
}

func (d *demo) traefik() string { return strings.TrimSuffix(os.Getenv("IDP_STACK_TRAEFIK_URL"), "/") }

// deployment prints the app's Deployment and pods when they change and
// reports whether it runs f.sha only, all replicas ready.
func (f *follower) deployment(ctx context.Context) bool {
	name := render.Deployment(app)
	dep, err := f.d.kube.AppsV1().Deployments(f.ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		f.print("deployment", "reading Deployment "+name+": "+err.Error())
		return false
	}
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	st := dep.Status
	f.print("deployment", fmt.Sprintf("deployment %s: image :%s  replicas %d (pods %d): updated %d, ready %d, available %d",
		name, imageTag(dep), want, st.Replicas, st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas))

	pods, err := f.d.kube.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(dep.Spec.Selector.MatchLabels).String(),
	})
	if err != nil {
		return false
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].CreationTimestamp.Before(&pods.Items[j].CreationTimestamp) })
	var ps []string
	old := 0
	for _, p := range pods.Items {
		if !strings.HasSuffix(podImage(&p), ":"+f.sha) || p.DeletionTimestamp != nil {
			old++
		}
		ps = append(ps, fmt.Sprintf("%s [%s] %s", p.Name, short(podImage(&p)), podState(&p)))
	}
	f.print("pods", "pods: "+strings.Join(ps, ", "))
	return strings.HasSuffix(dep.Spec.Template.Spec.Containers[0].Image, ":"+f.sha) &&
		st.ObservedGeneration >= dep.Generation && st.UpdatedReplicas == want && st.ReadyReplicas == want &&
		st.AvailableReplicas == want && st.Replicas == want && old == 0
}

func imageTag(dep *appsv1.Deployment) string {
	if len(dep.Spec.Template.Spec.Containers) == 0 {
		return "?"
	}
	return short(dep.Spec.Template.Spec.Containers[0].Image)
}

func podImage(p *corev1.Pod) string {
	if len(p.Spec.Containers) == 0 {
		return ""
	}
	return p.Spec.Containers[0].Image
}

// short is an image's tag, a commit SHA shortened to 8.
func short(image string) string {
	i := strings.LastIndex(image, ":")
	if i < 0 {
		return image
	}
	tag := image[i+1:]
	if len(tag) > 8 {
		tag = tag[:8]
	}
	return tag
}

func podState(p *corev1.Pod) string {
	where := ""
	if p.Spec.NodeName != "" {
		where = " on " + p.Spec.NodeName
	}
	if p.DeletionTimestamp != nil {
		return "Terminating" + where
	}
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil:
			return c.State.Waiting.Reason + where
		case c.State.Terminated != nil:
			return "Terminated (" + c.State.Terminated.Reason + ")" + where
		case c.State.Running != nil && !c.Ready:
			return "Running, not ready" + where
		}
	}
	if p.Status.Phase == corev1.PodRunning {
		return "Running, ready" + where
	}
	return string(p.Status.Phase) + where
}

// dump prints what runs in the project's namespace, to tell which stage
// of the pipeline failed.
func (d *demo) dump(ctx context.Context) {
	ns := render.Namespace(project)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	fmt.Printf("\n--- what namespace %s runs:\n", ns)
	for _, l := range append(stack.PipelineReport(ctx, d.kube, d.dyn, ns), d.gh.DeliveryReport()...) {
		fmt.Println(l)
	}
	fmt.Println("--- (README: When a pipeline fails)")
}

func (d *demo) waitCI(ctx context.Context) error {
	const steady = 5 * time.Second
	ns := render.Namespace(project)
	selectors := []string{"eventsource-name=" + render.EventSource(project, app), "sensor-name=" + render.Sensor(project, app)}
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	reported := map[string]bool{}
	for {
		ready := 0
		for _, sel := range selectors {
			pods, err := d.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil || len(pods.Items) == 0 {
				continue
			}
			ok := true
			restarts := int32(0)
			for _, p := range pods.Items {
				if p.DeletionTimestamp != nil {
					continue
				}
				at := readySince(&p)
				ok = ok && !at.IsZero() && time.Since(at) >= steady
				for _, c := range p.Status.ContainerStatuses {
					restarts += c.RestartCount
				}
			}
			if ok {
				ready++
				if !reported[sel] {
					reported[sel] = true
					note := ""
					if restarts > 0 {
						note = fmt.Sprintf(" (%d restart(s) while the EventBus came up)", restarts)
					}
					fmt.Printf("    %s: running%s\n", strings.SplitN(sel, "=", 2)[1], note)
				}
			}
		}
		if ready == len(selectors) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the EventSource and Sensor pods are not running steadily: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// readySince is when p last became Ready, zero when it is not.
func readySince(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}
