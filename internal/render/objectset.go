package render

import (
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ID is one object's identity. render imports no client, so this is plain
// data; the provider turns it into an engine.Ref in one place (provider.ref).
type ID struct {
	APIVersion string
	Kind       string
	Namespace  string // empty for cluster-scoped objects
	Name       string
}

// IDOf is obj's identity.
func IDOf(obj *unstructured.Unstructured) ID {
	return ID{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// ObjectSet is what one resource owns, rendered as one thing and applied
// and pruned as one (the style of kro's applyset): its objects in apply
// order, the anchor that tells refresh the resource exists, and the order
// in which destroy deletes them.
//
// Each resource has its own set type around this core (ProjectSet,
// ApplicationSet, DatabaseSet): callers reach the objects they need by
// name (set.StatefulSet()), never by kind or position, and a resource's
// delete order is its own.
type ObjectSet struct {
	objs      []*unstructured.Unstructured // apply order
	anchor    ID
	inventory []ID // delete order
}

func newObjectSet(objs []*unstructured.Unstructured, anchor ID, inventory []ID) ObjectSet {
	return ObjectSet{objs: objs, anchor: anchor, inventory: inventory}
}

// All is the set's objects in apply order.
func (s *ObjectSet) All() []*unstructured.Unstructured { return slices.Clone(s.objs) }

// Anchor is the object refresh knows the resource exists by.
func (s *ObjectSet) Anchor() ID { return s.anchor }

// Inventory is the set's objects in delete order.
func (s *ObjectSet) Inventory() []ID { return slices.Clone(s.inventory) }

// IDs is the set's objects in apply order.
func (s *ObjectSet) IDs() []ID {
	out := make([]ID, len(s.objs))
	for i, o := range s.objs {
		out[i] = IDOf(o)
	}
	return out
}

// get is the object of id, nil when the set has none.
func (s *ObjectSet) get(id ID) *unstructured.Unstructured {
	for _, o := range s.objs {
		if IDOf(o) == id {
			return o
		}
	}
	return nil
}

// Identities of the objects callers address by name alone, without a
// model to render (a read, a wait, an import).

func NamespaceID(p string) ID { return ID{APIVersion: "v1", Kind: "Namespace", Name: Namespace(p)} }

func EventBusID(p string) ID {
	return ID{APIVersion: argoAPIVersion, Kind: "EventBus", Namespace: Namespace(p), Name: EventBus(p)}
}

func EventSourceID(p, a string) ID {
	return ID{APIVersion: argoAPIVersion, Kind: "EventSource", Namespace: Namespace(p), Name: EventSource(p, a)}
}

func SensorID(p, a string) ID {
	return ID{APIVersion: argoAPIVersion, Kind: "Sensor", Namespace: Namespace(p), Name: Sensor(p, a)}
}

func WorkflowTemplateID(p, a string) ID {
	return ID{APIVersion: argoAPIVersion, Kind: "WorkflowTemplate", Namespace: Namespace(p), Name: WorkflowTemplate(p, a)}
}

func CatchUpID(p, a string) ID {
	return ID{APIVersion: argoAPIVersion, Kind: "CronWorkflow", Namespace: Namespace(p), Name: CatchUpCronWorkflow(p, a)}
}

func DeploymentID(p, a string) ID {
	return ID{APIVersion: "apps/v1", Kind: "Deployment", Namespace: Namespace(p), Name: Deployment(a)}
}

func ServiceID(p, a string) ID {
	return ID{APIVersion: "v1", Kind: "Service", Namespace: Namespace(p), Name: Service(a)}
}

func AppSecretID(p, a string) ID {
	return ID{APIVersion: "v1", Kind: "Secret", Namespace: Namespace(p), Name: AppSecret(p, a)}
}

func WebhookSecretID(p, a string) ID {
	return ID{APIVersion: "v1", Kind: "Secret", Namespace: Namespace(p), Name: WebhookSecret(p, a)}
}

func WebhookRouteID(p, a string) ID {
	return ID{APIVersion: traefikAPIVersion, Kind: "IngressRoute", Namespace: Namespace(p), Name: WebhookRoute(p, a)}
}

func IngressRouteID(p, a, domain string) ID {
	return ID{APIVersion: traefikAPIVersion, Kind: "IngressRoute", Namespace: Namespace(p), Name: IngressRoute(p, a, domain)}
}

func GitHubAccessSecretID(p string) ID {
	return ID{APIVersion: "v1", Kind: "Secret", Namespace: Namespace(p), Name: GitHubAccessSecret(p)}
}

func RegistrySecretID(p string) ID {
	return ID{APIVersion: "v1", Kind: "Secret", Namespace: Namespace(p), Name: RegistrySecret}
}

func IsolationPolicyID(p string) ID {
	return ID{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: Namespace(p), Name: IsolationPolicy(p)}
}

func ReleaseConfigMapID(p, a string) ID {
	return ID{APIVersion: "v1", Kind: "ConfigMap", Namespace: Namespace(p), Name: ReleaseConfigMap(p, a)}
}

func DatabaseStatefulSetID(p, d string) ID {
	return ID{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: Namespace(p), Name: DatabaseStatefulSet(p, d)}
}

func DatabaseServiceID(p, d string) ID {
	return ID{APIVersion: "v1", Kind: "Service", Namespace: Namespace(p), Name: DatabaseService(d)}
}

func DatabaseSecretID(p, d string) ID {
	return ID{APIVersion: "v1", Kind: "Secret", Namespace: Namespace(p), Name: DatabaseSecret(p, d)}
}

func DatabasePodID(p, d string, i int) ID {
	return ID{APIVersion: "v1", Kind: "Pod", Namespace: Namespace(p), Name: DatabasePod(p, d, i)}
}

// ClaimID is a PersistentVolumeClaim of namespace ns found by listing.
func ClaimID(ns, name string) ID {
	return ID{APIVersion: "v1", Kind: "PersistentVolumeClaim", Namespace: ns, Name: name}
}

// ObjectID is an object found by listing (kind and name read from it).
func ObjectID(apiVersion, kind, ns, name string) ID {
	return ID{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name}
}

const (
	argoAPIVersion    = "argoproj.io/v1alpha1"
	traefikAPIVersion = "traefik.io/v1alpha1"
	rbacAPIVersion    = "rbac.authorization.k8s.io/v1"
)

// ProjectSet is what an idp_project renders. Its anchor is the Namespace;
// destroy deletes the Namespace alone, which takes the rest along.
type ProjectSet struct{ ObjectSet }

func newProjectSet(p string, objs []*unstructured.Unstructured) *ProjectSet {
	s := &ProjectSet{newObjectSet(objs, NamespaceID(p), nil)}
	for i := len(objs) - 1; i >= 0; i-- { // the Namespace, applied first, goes last
		s.inventory = append(s.inventory, IDOf(objs[i]))
	}
	return s
}

// Namespace is the project's Namespace.
func (s *ProjectSet) Namespace() *unstructured.Unstructured { return s.get(s.anchor) }

// EventBus is the project's EventBus.
func (s *ProjectSet) EventBus() *unstructured.Unstructured {
	return s.get(EventBusID(s.anchor.Name))
}

// ApplicationSet is what an idp_application renders. Its anchor is the
// EventSource: applied last (once the Sensor listens) and deleted last.
type ApplicationSet struct {
	ObjectSet
	project, name string
}

func newApplicationSet(a Application, objs []*unstructured.Unstructured) *ApplicationSet {
	s := &ApplicationSet{newObjectSet(objs, EventSourceID(a.Project, a.Name), nil), a.Project, a.Name}
	s.inventory = applicationInventory(s.IDs(), s.anchor).All()
	return s
}

// applicationInventory sorts ids (in apply order) into delete order.
func applicationInventory(ids []ID, anchor ID) ApplicationInventory {
	inv := ApplicationInventory{Anchor: anchor, applyOrder: ids}
	for _, id := range ids {
		switch {
		case id == anchor:
		case startsRuns(id):
			inv.Starters = append(inv.Starters, id)
		default:
			inv.Rest = append(inv.Rest, id)
		}
	}
	return inv
}

// startsRuns picks what starts an application's runs: destroy deletes it
// first, so no run re-creates what follows.
func startsRuns(id ID) bool {
	return id.APIVersion == argoAPIVersion && (id.Kind == "Sensor" || id.Kind == "WorkflowTemplate" || id.Kind == "CronWorkflow")
}

// EventSource is the application's EventSource (the anchor).
func (s *ApplicationSet) EventSource() *unstructured.Unstructured { return s.get(s.anchor) }

// Sensor is the application's Sensor.
func (s *ApplicationSet) Sensor() *unstructured.Unstructured {
	return s.get(SensorID(s.project, s.name))
}

// Deployment is the application's Deployment: nil before a commit is known.
func (s *ApplicationSet) Deployment() *unstructured.Unstructured {
	return s.get(DeploymentID(s.project, s.name))
}

// WithoutEventSource is All without the EventSource: what is applied
// before CI may listen.
func (s *ApplicationSet) WithoutEventSource() []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(s.objs))
	for _, o := range s.objs {
		if IDOf(o) != s.anchor {
			out = append(out, o)
		}
	}
	return out
}

// ApplicationInventory names every object an application can have,
// whatever its settings and commit, in delete order: what the prior state
// rendered, what a pinned state's catch-up left, and what CI writes without
// tofu (the Deployment, the domains' routes, the release record). What
// starts runs comes first (Starters), the EventSource last (Anchor).
type ApplicationInventory struct {
	Starters []ID // Sensor, WorkflowTemplate, catch-up CronWorkflow
	Rest     []ID
	Anchor   ID // EventSource

	applyOrder []ID
}

// InventoryOfApplication is ApplicationInventory for application a of
// project p with domains, from names alone.
func InventoryOfApplication(p, a string, domains []string) ApplicationInventory {
	ns := Namespace(p)
	ids := []ID{
		AppSecretID(p, a),
		WebhookSecretID(p, a),
		ServiceID(p, a),
		EventSourceID(p, a),
		WebhookRouteID(p, a),
		SensorID(p, a),
		{APIVersion: "v1", Kind: "ServiceAccount", Namespace: ns, Name: DeployServiceAccount(p, a)},
		{APIVersion: rbacAPIVersion, Kind: "Role", Namespace: ns, Name: DeployRole(p, a)},
		{APIVersion: rbacAPIVersion, Kind: "RoleBinding", Namespace: ns, Name: DeployRole(p, a)},
		WorkflowTemplateID(p, a),
		CatchUpID(p, a),
		DeploymentID(p, a),
	}
	for _, d := range domains {
		ids = append(ids, IngressRouteID(p, a, d))
	}
	return applicationInventory(append(ids, ReleaseConfigMapID(p, a)), EventSourceID(p, a))
}

// All is the inventory in delete order.
func (inv ApplicationInventory) All() []ID {
	out := append(slices.Clone(inv.Starters), inv.Rest...)
	return append(out, inv.Anchor)
}

// ApplyOrder is the inventory in the order an apply (tofu's and CI's)
// writes it.
func (inv ApplicationInventory) ApplyOrder() []ID { return slices.Clone(inv.applyOrder) }

// DatabaseSet is what an idp_database renders: the Secret its pods read,
// the Service, the StatefulSet (the anchor, deleted first: its pods are
// gone when it is, so none reads the Secret or holds a claim afterwards).
// Volumes are not in it: they outlive the database unless delete_data.
type DatabaseSet struct {
	ObjectSet
	project, name string
}

func newDatabaseSet(db Database, objs []*unstructured.Unstructured) *DatabaseSet {
	sts := DatabaseStatefulSetID(db.Project, db.Name)
	s := &DatabaseSet{ObjectSet{objs: objs, anchor: sts}, db.Project, db.Name}
	s.inventory = InventoryOfDatabase(db.Project, db.Name)
	return s
}

// InventoryOfDatabase names database d's objects in delete order, from
// names alone: the StatefulSet first, then the Service and the Secret.
func InventoryOfDatabase(p, d string) []ID {
	return []ID{DatabaseStatefulSetID(p, d), DatabaseServiceID(p, d), DatabaseSecretID(p, d)}
}

// StatefulSet is the database's StatefulSet (the anchor).
func (s *DatabaseSet) StatefulSet() *unstructured.Unstructured { return s.get(s.anchor) }

// Secret is the Secret holding the database's password.
func (s *DatabaseSet) Secret() *unstructured.Unstructured {
	return s.get(DatabaseSecretID(s.project, s.name))
}

// SharedNames are the objects whose names an application of the same name
// would make too (Secret and Service): claimed before Vault is touched.
func (s *DatabaseSet) SharedNames() []*unstructured.Unstructured {
	return []*unstructured.Unstructured{s.Secret(), s.get(DatabaseServiceID(s.project, s.name))}
}
