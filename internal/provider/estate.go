package provider

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// Finding what already runs in a cluster, for the list resources
// (`terraform query`) and the idp_estate data source (OpenTofu). Whatever
// made it (the old chart, another state of ours, a person following
// ../shared/CONTRACT.md), it is found by the contract's names and read by
// the same importModel as `import`, so a result imports as it was listed.

// estate is what runs: the models import would build, in name order, and
// what was found but cannot be adopted, with the reason (by import ID).
type estate struct {
	projects     []*projectModel
	applications []*applicationModel // git.hash only when pinned: otherwise CI owns it
	databases    []*databaseModel
	skipped      map[string]string
}

// estateKinds says which kinds findEstate reads; projects limits it to
// those projects (nil: every project).
type estateKinds struct {
	projects, applications, databases bool
	only                              []string
}

// projectNames lists the namespaces that are projects: those holding the
// EventBus the contract names after them.
func (d *ProviderData) projectNames(ctx context.Context, only []string) ([]string, error) {
	buses, err := d.Engine.ListAllNamespaces(ctx, "argoproj.io/v1alpha1", "EventBus")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, b := range buses {
		ns := b.GetNamespace()
		if b.GetName() == render.EventBus(ns) && b.GetDeletionTimestamp() == nil && (only == nil || slices.Contains(only, ns)) {
			names = append(names, ns)
		}
	}
	sort.Strings(names)
	return names, nil
}

func (d *ProviderData) findEstate(ctx context.Context, k estateKinds) (*estate, error) {
	projects, err := d.projectNames(ctx, k.only)
	if err != nil {
		return nil, err
	}
	e := &estate{skipped: map[string]string{}}
	if k.projects {
		r := &projectResource{data: d}
		for _, p := range projects {
			m, _, err := r.importModel(ctx, p)
			if err != nil {
				e.skipped[p] = err.Error()
				continue
			}
			e.projects = append(e.projects, m)
		}
	}
	if k.applications {
		r := &applicationResource{data: d}
		err := d.eachChild(ctx, projects, "EventSource", render.ApplicationOfEventSource, func(p, a string) error {
			m, err := r.importModel(ctx, p, a)
			if err == nil {
				err = r.configHash(ctx, m)
			}
			if err != nil {
				e.skipped[p+"/"+a] = err.Error()
				return nil
			}
			e.applications = append(e.applications, m)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if k.databases {
		r := &databaseResource{data: d}
		err := d.eachChild(ctx, projects, "StatefulSet", render.DatabaseOfStatefulSet, func(p, db string) error {
			m, err := r.importModel(ctx, p, db)
			if err != nil {
				e.skipped[p+"/"+db] = err.Error()
				return nil
			}
			e.databases = append(e.databases, m)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return e, nil
}

// eachChild calls f for every object of kind in a project's namespace
// whose name nameOf turns into a child's name, in name order.
func (d *ProviderData) eachChild(ctx context.Context, projects []string, kind string,
	nameOf func(p, name string) string, f func(p, child string) error) error {
	apiVersion := map[string]string{"EventSource": "argoproj.io/v1alpha1", "StatefulSet": "apps/v1"}[kind]
	objs, err := d.Engine.ListAllNamespaces(ctx, apiVersion, kind)
	if err != nil {
		return err
	}
	var ids [][2]string
	for _, o := range objs {
		p := o.GetNamespace()
		if !slices.Contains(projects, p) {
			continue
		}
		if child := nameOf(p, o.GetName()); child != "" {
			ids = append(ids, [2]string{p, child})
		}
	}
	slices.SortFunc(ids, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	for _, id := range ids {
		if err := f(id[0], id[1]); err != nil {
			return err
		}
	}
	return nil
}

// configHash turns an imported application's git.hash into what its
// configuration says: the deployed commit is CI's unless the template is
// pinned (no deploy steps), as import records in the private state.
func (r *applicationResource) configHash(ctx context.Context, m *applicationModel) error {
	p, a := m.Project.ValueString(), m.Name.ValueString()
	tmpl, err := r.data.Engine.Get(ctx, toRef(render.WorkflowTemplateID(p, a)))
	if err != nil {
		return fmt.Errorf("reading the WorkflowTemplate: %w", err)
	}
	if !render.ParseWorkflowTemplatePinned(tmpl) {
		m.Git.Hash = types.StringNull()
	}
	return nil
}
