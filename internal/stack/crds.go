package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"os"
	"path/filepath"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// CRDsDir is where the upstream CRDs live: IDP_CRDS_DIR, else ../shared/crds
// beside the repository.
func CRDsDir(t T) string {
	if d := os.Getenv("IDP_CRDS_DIR"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	for dir := wd; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "crds")
		}
	}
	t.Fatal("cannot find the repository root for ../shared/crds; set IDP_CRDS_DIR")
	return ""
}

// BareKubeconfig is the kubeconfig of the stack's second API server, which
// shares nothing with the first and has no Argo or Traefik CRDs: the cluster
// a bootstrap configuration starts from.
func BareKubeconfig(t T) string {
	t.Helper()
	PreCheck(t)
	p := os.Getenv("IDP_BARE_KUBECONFIG")
	if p == "" {
		t.Fatal("IDP_BARE_KUBECONFIG is not set: the stack's bare API server is missing (make stack-up)")
	}
	return p
}

// StackArgoCRD is the path of an Argo Workflows CRD that ../shared does not
// carry (CronWorkflow, for one), as stack-up copied it from the module.
func StackArgoCRD(t T, file string) string {
	return filepath.Join(stackDir(t), "crds-argo", file)
}

// CRDs reads the CustomResourceDefinitions in the given files (relative to
// CRDsDir, or absolute; multi-document YAML).
func CRDs(t T, files ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, f := range files {
		if !filepath.IsAbs(f) {
			f = filepath.Join(CRDsDir(t), f)
		}
		raw, err := os.ReadFile(f) //nolint:gosec // a path the test chose
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if obj.GetKind() == "CustomResourceDefinition" {
				out = append(out, obj)
			}
		}
	}
	return out
}

// InstallCRDs server-side applies crds to the cluster of kubeconfig.
func InstallCRDs(kubeconfig string, crds []*unstructured.Unstructured) error {
	dyn, err := dynamicFor(kubeconfig)
	if err != nil {
		return err
	}
	force := true
	for _, c := range crds {
		body, _ := json.Marshal(c.Object)
		if _, err := dyn.Resource(crdGVR).Patch(context.Background(), c.GetName(), types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: "acctest", Force: &force}); err != nil {
			return err
		}
	}
	return nil
}

// DeleteCRDs deletes crds from the cluster of kubeconfig, if present.
func DeleteCRDs(kubeconfig string, crds []*unstructured.Unstructured) error {
	dyn, err := dynamicFor(kubeconfig)
	if err != nil {
		return err
	}
	for _, c := range crds {
		err := dyn.Resource(crdGVR).Delete(context.Background(), c.GetName(), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

func dynamicFor(kubeconfig string) (dynamic.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}
