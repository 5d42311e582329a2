package provider_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	vaultapi "github.com/hashicorp/vault/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/provider"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// TestAccBadInput runs provider.BadInputs through tofu (plan) against the
// stack: each is rejected with its message, shown at its attribute, and no
// plan writes anything. Before and after, it records every object labelled
// as ours (kind, namespace, name, resourceVersion) and every key of the
// Vault KV mount with its version; what changed must not belong to any
// project the cases name. (The stack is shared: changes elsewhere, by other
// tests running meanwhile, are listed, not failed.)
func TestAccBadInput(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "")
	cases := provider.BadInputs()
	scope := map[string]bool{"bad-input": true}
	for _, tc := range cases {
		if p, ok := tc.Config["project"].(string); ok {
			scope[p] = true
		}
		if p, ok := tc.Config["name"].(string); ok && tc.Kind == "idp_project" {
			scope[p] = true
		}
	}

	start := time.Now()
	before := stackSnapshot(t)
	counts := map[string]int{}
	for _, tc := range cases {
		t.Run(tc.Kind+"/"+tc.Name, func(t *testing.T) {
			counts[tc.Kind]++
			acctest.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      acctest.Config(tc.HCL()),
					PlanOnly:    true,
					ExpectError: tofuErrorAt(tc),
				}},
			})
		})
	}
	after := stackSnapshot(t)

	var ours, others []string
	for _, k := range changedKeys(before, after) {
		if inScope(k, scope) {
			ours = append(ours, k)
		} else {
			others = append(others, k)
		}
	}
	if len(ours) > 0 {
		t.Errorf("invalid configurations wrote to the stack: %s", strings.Join(ours, ", "))
	}
	if len(others) > 0 {
		t.Logf("changed meanwhile outside the cases' projects (other tests): %s", strings.Join(others, ", "))
	}
	var kinds []string
	total := 0
	for k, n := range counts {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	if !t.Failed() {
		acctest.WriteSummary("bad-input", fmt.Sprintf("bad inputs rejected\t%d\n", len(cases)))
	}
	t.Logf("bad inputs rejected by tofu plan: %d (%s) in %s; objects of ours %d, Vault keys %d, written by the plans: %d",
		total, strings.Join(kinds, ", "), time.Since(start).Round(time.Second), before.objects, before.vaultKeys, len(ours))
}

// tofuErrorAt matches the case's message in tofu's output (which wraps
// lines) and tofu's source line of the attribute (before, after, or
// between summary and detail).
func tofuErrorAt(tc provider.BadInput) *regexp.Regexp {
	msg := strings.ReplaceAll(tc.Err, " ", `\s+`)
	leaf := tc.Attr[strings.LastIndex(tc.Attr, ".")+1:]
	line := `\n\s*\d+:\s[^\n]*\b"?` + regexp.QuoteMeta(leaf) + `"?\s*=`
	if strings.Contains(tc.Attr, ".") && tc.Kind != "provider" {
		// tofu points at the resource, not inside an object value: the
		// message names the attribute.
		line = `(?:` + line + `|` + regexp.QuoteMeta(tc.Attr) + `)`
	}
	alts := []string{msg + `.*` + line, line + `.*` + msg}
	if summary, detail, ok := strings.Cut(msg, `.*`); ok {
		// The source line comes between summary and detail.
		alts = append(alts, summary+`.*`+line+`.*`+detail)
	}
	return regexp.MustCompile(`(?s)(?:` + strings.Join(alts, "|") + `)`)
}

type snapshot struct {
	keys               map[string]string // "Kind ns/name" or "vault key" -> version
	objects, vaultKeys int
}

// stackSnapshot lists every object labelled as ours, of every listable
// kind, and the Vault KV mount's keys with their current versions.
func stackSnapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := context.Background()
	s := snapshot{keys: map[string]string{}}
	cfg := rest.CopyConfig(stack.RESTConfig(t))
	cfg.QPS, cfg.Burst = 50, 100 // one list per kind
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		t.Fatal(err)
	}
	sel := metav1.ListOptions{LabelSelector: render.LabelManagedBy + "=" + render.ManagedBy}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !hasVerb(r.Verbs, "list") {
				continue
			}
			items, err := dyn.Resource(gv.WithResource(r.Name)).List(ctx, sel)
			if err != nil {
				continue // kinds the admin may not list (none on the stack) or that vanished
			}
			for _, o := range items.Items {
				s.keys[fmt.Sprintf("%s %s/%s", r.Kind, o.GetNamespace(), o.GetName())] = o.GetResourceVersion()
				s.objects++
			}
		}
	}
	c, err := vaultapi.NewClient(&vaultapi.Config{Address: os.Getenv("VAULT_ADDR")})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(os.Getenv("VAULT_TOKEN"))
	mount := os.Getenv("IDP_VAULT_KV_MOUNT")
	var walk func(prefix string)
	walk = func(prefix string) {
		sec, err := c.Logical().ListWithContext(ctx, mount+"/metadata/"+prefix)
		if err != nil {
			t.Fatal(err)
		}
		if sec == nil {
			return
		}
		keys, _ := sec.Data["keys"].([]any)
		for _, k := range keys {
			key := prefix + fmt.Sprint(k)
			if strings.HasSuffix(key, "/") {
				walk(key)
				continue
			}
			md, err := c.KVv2(mount).GetMetadata(ctx, key)
			if err != nil {
				continue // deleted meanwhile
			}
			s.keys["vault "+key] = fmt.Sprintf("%d %s", md.CurrentVersion, md.UpdatedTime)
			s.vaultKeys++
		}
	}
	walk("")
	return s
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

func changedKeys(before, after snapshot) []string {
	var out []string
	for k, v := range after.keys {
		if before.keys[k] != v {
			out = append(out, k)
		}
	}
	for k := range before.keys {
		if _, ok := after.keys[k]; !ok {
			out = append(out, k+" (deleted)")
		}
	}
	sort.Strings(out)
	return out
}

// inScope: a Vault key or object of a project the cases name (its
// namespace, the namespace itself, or a Vault key "<project>-...").
func inScope(key string, projects map[string]bool) bool {
	if rest, ok := strings.CutPrefix(key, "vault "); ok {
		for p := range projects {
			if p != "" && strings.HasPrefix(rest, p+"-") {
				return true
			}
		}
		return false
	}
	_, obj, _ := strings.Cut(key, " ")
	ns, name, _ := strings.Cut(obj, "/")
	name, _, _ = strings.Cut(name, " ")
	if ns == "" {
		return name != "" && projects[name]
	}
	return projects[ns]
}
