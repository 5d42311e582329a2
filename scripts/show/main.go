// Command show prints what the provider manages in a project namespace:
// every object labelled app.kubernetes.io/managed-by=terraform-provider-idp,
// found through discovery. `make demo` uses it; no kubectl needed.
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: show <namespace>")
		os.Exit(2)
	}
	if err := show(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "show:", err)
		os.Exit(1)
	}
}

func show(ctx context.Context, ns string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		return err
	}
	cfg.WarningHandler = rest.NoWarnings{}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	lists, err := disco.ServerPreferredNamespacedResources()
	if err != nil {
		return err
	}
	selector := render.LabelManagedBy + "=" + render.ManagedBy
	var lines []string
	for _, l := range lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		for _, r := range l.APIResources {
			// Endpoints copy their Service's labels: derived, not ours.
			if !strings.Contains(strings.Join(r.Verbs, ","), "list") || strings.Contains(r.Name, "/") ||
				r.Kind == "Endpoints" || r.Kind == "EndpointSlice" {
				continue
			}
			items, err := dyn.Resource(gv.WithResource(r.Name)).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				continue
			}
			for _, it := range items.Items {
				lines = append(lines, fmt.Sprintf("  %-22s %s", r.Kind, it.GetName()))
			}
		}
	}
	sort.Strings(lines)
	fmt.Printf("Objects managed by terraform-provider-idp in namespace %s:\n%s\n", ns, strings.Join(lines, "\n"))

	pods, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	fmt.Printf("\nPods (node idp-node is real, kwok-node-* are fake):\n")
	for _, p := range pods.Items {
		phase, _, _ := unstructured.NestedString(p.Object, "status", "phase")
		node, _, _ := unstructured.NestedString(p.Object, "spec", "nodeName")
		ready := "not ready"
		conds, _, _ := unstructured.NestedSlice(p.Object, "status", "conditions")
		for _, c := range conds {
			if cm := c.(map[string]any); cm["type"] == "Ready" && cm["status"] == "True" {
				ready = "ready"
			}
		}
		fmt.Printf("  %-60s %-9s %-9s on %s\n", p.GetName(), phase, ready, node)
	}
	return nil
}
