package render

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/render/objcheck"
)

// Every object the golden tests render passes the offline API-server
// checks the fuzz tests rely on, and those checks do refuse what the API
// server refuses: a checker that cannot fail would prove nothing.
func TestObjcheck(t *testing.T) {
	c, err := objcheck.New(crdsDir())
	if err != nil {
		t.Fatalf("%v (set IDP_CRDS_DIR to shared/crds)", err)
	}
	a := testApplication()
	a.Hash = "0123456789abcdef0123456789abcdef01234567"
	a.Databases = []DatabaseLink{{Name: "orders-db", Type: "mysql", Port: 3307, PasswordVersion: 1}}
	var all []*unstructured.Unstructured
	add := func(objs []*unstructured.Unstructured, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, objs...)
	}
	add(ApplicationObjects(a))
	add(ProjectObjects(testProject()))
	for _, typ := range DatabaseTypeNames() {
		add(DatabaseObjects(testDatabase(typ)))
	}
	all = append(all, BuildWorkflow("shop", "api", a.Hash), ReleaseRecord(a, a.Hash))
	kinds := map[string]bool{}
	for _, o := range all {
		for _, e := range c.Check(o) {
			t.Errorf("%s: %v", objcheck.Key(o), e)
		}
		kinds[o.GetKind()] = true
	}
	if len(kinds) < 15 {
		t.Errorf("checked only %d kinds: %v", len(kinds), kinds)
	}

	find := func(kind string) *unstructured.Unstructured {
		for _, o := range all {
			if o.GetKind() == kind {
				return o.DeepCopy()
			}
		}
		t.Fatalf("no %s", kind)
		return nil
	}
	mutations := map[string]struct {
		obj  *unstructured.Unstructured
		edit func(o *unstructured.Unstructured)
		want string
	}{
		"Service name with a dot": {find("Service"), func(o *unstructured.Unstructured) { o.SetName("a.b") }, "DNS-1035"},
		"Secret name too long":    {find("Secret"), func(o *unstructured.Unstructured) { o.SetName(strings.Repeat("a", 254)) }, "253"},
		"label value too long": {find("ConfigMap"), func(o *unstructured.Unstructured) {
			o.SetLabels(map[string]string{"app": strings.Repeat("a", 64)})
		}, "63"},
		"StatefulSet whose pods cannot be labelled": {find("StatefulSet"), func(o *unstructured.Unstructured) { o.SetName(strings.Repeat("a", 53)) }, "controller-revision-hash"},
		"misspelt Deployment field": {find("Deployment"), func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(o.Object, int64(1), "spec", "replica")
		}, "unknown field"},
		"unknown IngressRoute field": {find("IngressRoute"), func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(o.Object, "x", "spec", "entrypoint")
		}, "CRD"},
		"EventSource whose Service name is too long": {find("EventSource"), func(o *unstructured.Unstructured) { o.SetName(strings.Repeat("a", 50)) }, "its Service"},
		"WorkflowTemplate with a wrong type": {find("WorkflowTemplate"), func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(o.Object, "x", "spec", "ttlStrategy", "secondsAfterSuccess")
		}, "CRD"},
		"misspelt CronWorkflow field": {find("CronWorkflow"), func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(o.Object, "Forbid", "spec", "concurrency")
		}, "concurrency"},
		"CronWorkflow whose workflow spec has a wrong type": {find("CronWorkflow"), func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(o.Object, "x", "spec", "workflowSpec", "activeDeadlineSeconds")
		}, "CRD"},
		"registry Secret without its key": {find("Secret"), func(o *unstructured.Unstructured) {
			o.Object["type"] = "kubernetes.io/dockerconfigjson"
			o.Object["data"] = map[string]any{"other": "eA=="}
		}, ".dockerconfigjson"},
		"env name with a space": {find("Deployment"), func(o *unstructured.Unstructured) {
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			c := cs[0].(map[string]any)
			c["env"] = []any{map[string]any{"name": "A B", "value": "x"}}
			_ = unstructured.SetNestedSlice(o.Object, cs, "spec", "template", "spec", "containers")
		}, "env"},
	}
	for name, m := range mutations {
		m.edit(m.obj)
		errs := c.Check(m.obj)
		if !strings.Contains(fmt.Sprint(errs), m.want) {
			t.Errorf("%s: errors %v, want one saying %q", name, errs, m.want)
		}
	}
}
