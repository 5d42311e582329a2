package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// Import: each resource's model rebuilt from its live objects (importModel), as the old chart or this provider
// made them.

// importModel rebuilds an application's configuration from the live
// objects (as the old chart or this provider made them).
func (r *applicationResource) importModel(ctx context.Context, p, a string) (*applicationModel, error) {
	eng := r.data.Engine
	ns := render.Namespace(p)
	get := func(id render.ID) (*unstructured.Unstructured, error) { return eng.Get(ctx, toRef(id)) }
	es, err := get(render.EventSourceID(p, a))
	if err != nil {
		return nil, err
	}
	if es == nil {
		return nil, fmt.Errorf("EventSource %s/%s does not exist: no application %s in project %s", ns, render.EventSource(p, a), a, p)
	}
	owner, repo := render.ParseEventSourceRepo(es, p, a)
	if owner == "" || repo == "" {
		return nil, fmt.Errorf("EventSource %s/%s has no single GitHub repository under github.%s", ns, es.GetName(), render.GitHubEvent(p, a))
	}
	sensor, err := get(render.SensorID(p, a))
	if err != nil {
		return nil, err
	}
	branch := render.ParseSensorBranch(sensor)
	if branch == "" {
		return nil, fmt.Errorf("Sensor %s/%s is missing or has no body.ref filter, so the branch is unknown", ns, render.Sensor(p, a))
	}

	svc, err := get(render.ServiceID(p, a))
	if err != nil {
		return nil, err
	}
	if svc == nil {
		return nil, fmt.Errorf("Service %s/%s does not exist, so the port is unknown", ns, render.Service(a))
	}
	port, found := render.ParseServicePort(svc)
	if !found {
		return nil, fmt.Errorf("Service %s/%s has no port", ns, render.Service(a))
	}

	m := &applicationModel{
		ID: types.StringValue(p + "/" + a), Project: types.StringValue(p), Name: types.StringValue(a),
		Git: &gitModel{Type: types.StringValue("github"), Owner: types.StringValue(owner), Repo: types.StringValue(repo),
			Branch: types.StringValue(branch), Hash: types.StringNull()},
		Port: types.Int64Value(port), Replicas: types.Int64Value(1),
		Domains:               types.SetNull(types.StringType),
		AppSecretVaultPath:    types.StringNull(),
		WebhookSecretRotation: types.StringNull(),
		BuildOnCreate:         types.BoolValue(false),
		RolloutTimeout:        durationValue(render.DefaultRolloutTimeout),
		BuildTimeout:          durationValue(render.DefaultBuildTimeout),
		Databases:             databaseLinksValue(p, nil),
		Image:                 types.StringNull(),
		WebhookURL:            types.StringNull(),
		Objects:               types.MapNull(types.StringType),
		Timeouts:              nullTimeouts(),
	}
	if s, err := get(render.AppSecretID(p, a)); err == nil && s != nil {
		m.AppSecretVaultPath = r.data.importedVaultPath(s, render.AppSecretVaultPath(p, a))
	}
	dep, err := get(render.DeploymentID(p, a))
	if err != nil {
		return nil, err
	}
	tmpl, err := get(render.WorkflowTemplateID(p, a))
	if err != nil {
		return nil, err
	}
	// The steps' deadlines (the old chart's template has none: defaults).
	build, rollout := render.ParseTemplateTimeouts(tmpl)
	if build > 0 {
		m.BuildTimeout = durationValue(build)
	}
	if rollout > 0 {
		m.RolloutTimeout = durationValue(rollout)
	}
	if dep != nil {
		if err := render.ImmutableMismatch(dep, render.Deployment(a), ""); err != nil {
			return nil, err
		}
		if tag := render.ImageTag(render.ContainerImage(dep, render.Deployment(a))); tag != "" {
			m.Git.Hash = types.StringValue(tag)
		}
	} else {
		// Not built yet: our template's deploy step holds the Deployment
		// CI will apply, with its replicas and database links.
		dep = render.ParseTemplateDeployment(tmpl, a)
	}
	if dep != nil {
		if n, _, ok := render.ParseReplicas(dep); ok {
			m.Replicas = types.Int64Value(n)
		}
		m.Databases = databaseLinksValue(p, render.ParseDatabaseEnv(p, render.ContainerEnv(dep, render.Deployment(a)), render.ParsePodAnnotations(dep)))
	}
	routes, err := eng.List(ctx, "traefik.io/v1alpha1", "IngressRoute", ns, "")
	if err != nil {
		return nil, err
	}
	var domains []string
	for _, rt := range routes {
		if d := render.ParseRouteDomain(&rt, a); d != "" && rt.GetName() == render.IngressRoute(p, a, d) {
			domains = append(domains, d)
		}
	}
	if len(domains) == 0 {
		// Not built yet: no routes exist, but our WorkflowTemplate's deploy
		// steps hold the ones CI will apply (the old chart's has none).
		domains = render.ParseTemplateDomains(tmpl, p, a)
	}
	if len(domains) > 0 {
		m.Domains = setValue(domains)
	}
	return m, nil
}

// Import of a database: the model rebuilt from its live StatefulSet.

func (r *databaseResource) importModel(ctx context.Context, p, d string) (*databaseModel, error) {
	eng := r.data.Engine
	name := render.DatabaseStatefulSet(p, d)
	sts, err := eng.Get(ctx, toRef(render.DatabaseStatefulSetID(p, d)))
	if err != nil {
		return nil, err
	}
	if sts == nil {
		return nil, fmt.Errorf("there is no StatefulSet %s in namespace %s", name, render.Namespace(p))
	}
	typ, version, port, err := render.ParseDatabase(sts, d)
	if err != nil {
		return nil, fmt.Errorf("%w; only databases of those types can be imported", err)
	}
	if err := render.ImmutableMismatch(sts, name, render.DatabaseService(d)); err != nil {
		return nil, err
	}
	size, err := render.ParseClaimTemplateSize(sts, render.DatabaseVolume(p, d))
	if err != nil {
		return nil, fmt.Errorf("StatefulSet %s: %w", name, err)
	}
	class, _ := render.ClaimTemplateStorageClass(sts, render.DatabaseVolume(p, d))
	// A claim expanded since (by us or by hand) is what the database has.
	claims, err := r.claims(ctx, render.Database{Project: p, Name: d})
	if err != nil {
		return nil, err
	}
	for i := range claims {
		if q, ok := render.ParseClaimSize(&claims[i]); ok && q.Cmp(size) > 0 {
			size = q
		}
	}
	m := &databaseModel{
		Project: types.StringValue(p), Name: types.StringValue(d), Type: types.StringValue(typ),
		Version: types.StringValue(version), Size: types.StringValue(size.String()), Port: types.Int64Value(port),
		StorageClass: types.StringPointerValue(class),
		DeleteData:   types.BoolValue(false), PasswordVersion: types.Int64Null(),
		Objects: types.MapNull(types.StringType), Timeouts: nullTimeouts(),
	}
	m.outputs()
	return m, nil
}

// importModel rebuilds a project's configuration from its live objects (as
// the old chart, this provider or a person following the contract made
// them); summary heads the error.
func (r *projectResource) importModel(ctx context.Context, name string) (m *projectModel, summary string, err error) {
	eng := r.data.Engine
	summary = "Importing project " + name
	get := func(id render.ID) *unstructured.Unstructured {
		if err != nil {
			return nil
		}
		var obj *unstructured.Unstructured
		obj, err = eng.Get(ctx, toRef(id))
		return obj
	}
	ns := get(render.NamespaceID(name))
	if err != nil {
		return nil, summary, err
	}
	if ns == nil {
		return nil, "Project not found", fmt.Errorf("Namespace %s does not exist.", name)
	}
	bus := get(render.EventBusID(name))
	if err != nil {
		return nil, summary, err
	}
	if bus == nil {
		return nil, "Not an idp project",
			fmt.Errorf("Namespace %s exists but has no EventBus %s, so it is not a project made by this provider or the idp chart.",
				name, render.EventBus(name))
	}
	m = &projectModel{
		ID: types.StringValue(name), Name: types.StringValue(name),
		EventBusReplicas:   types.Int64Value(3),
		EventBusVolumeSize: types.StringValue(defaultEventBusVolume),
		Labels:             types.MapNull(types.StringType),
		Annotations:        mapValue(engine.OwnedEntries(ns, "metadata", "annotations")),
		DeleteData:         types.BoolValue(false),
		Objects:            types.MapNull(types.StringType),
		Timeouts:           nullTimeouts(),
	}
	if labels := engine.OwnedEntries(ns, "metadata", "labels"); labels != nil {
		delete(labels, render.LabelManagedBy)
		m.Labels = mapValue(labels)
	}
	// The chart's native NATS bus imports as "nats" and stays so until its
	// owner sets eventbus_type.
	typ, replicas, size := render.ParseEventBus(bus)
	m.EventBusType = types.StringValue(typ)
	if replicas > 0 {
		m.EventBusReplicas = types.Int64Value(replicas)
	}
	if size != "" {
		m.EventBusVolumeSize = types.StringValue(size)
	}
	m.GitHubAccessVaultPath = r.data.importedVaultPath(get(render.GitHubAccessSecretID(name)), render.GitHubAccessVaultPath(name))
	m.RegistryVaultPath = r.data.importedVaultPath(get(render.RegistrySecretID(name)), render.RegistryVaultPath(name))
	m.Isolation, m.AllowedNamespaces = types.BoolValue(false), setValue(nil)
	if np := get(render.IsolationPolicyID(name)); np != nil {
		// The platform's namespaces come from the provider; the rest are
		// the project's own.
		platform, _, _ := r.data.Isolation()
		m.Isolation = types.BoolValue(true)
		m.AllowedNamespaces = setValue(without(render.ParseAllowedNamespaces(np), platform))
	}
	if err != nil {
		return nil, summary, err
	}
	return m, summary, nil
}

// without returns the items of list that are not in drop.
func without(list, drop []string) []string {
	var out []string
	for _, v := range list {
		if !slices.Contains(drop, v) {
			out = append(out, v)
		}
	}
	return out
}
