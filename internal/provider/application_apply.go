package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// One apply of an application, as applyLifecycle runs it (applicationLife), with its own steps: following CI's
// commit, the webhook secret, CI listening last, the rollout, and the first build after a create or unpin.

// apply syncs Vault (webhook secret), applies every object (the
// EventSource last, once the Sensor runs: listenCI), prunes what the prior
// state had and this one does not, waits until CI listens (wait_for_ci)
// and for a Deployment that tofu changed to roll out.
func (r *applicationResource) apply(ctx context.Context, plan, prior *applicationModel, pinned bool, priv privateData, diags *diag.Diagnostics) {
	l := &applicationLife{r: r, plan: plan, prior: prior, pinned: pinned}
	applied := applyLifecycle(ctx, r.data.Engine, l, prior == nil, priv, diags)
	if diags.HasError() {
		return
	}
	spec := l.spec
	plan.ID = types.StringValue(spec.Project + "/" + spec.Name)
	plan.Objects = plannedObjects(applied)
	plan.Image = imageOf(spec)
	plan.WebhookURL = types.StringValue(render.WebhookURL(spec.WebhookBaseURL, spec.Project, spec.Name))
	if spec.Hash == "" {
		plan.Git.Hash = types.StringNull()
	}
}

// applicationLife is one apply of an application, as applyLifecycle runs it.
type applicationLife struct {
	r           *applicationResource
	plan, prior *applicationModel
	pinned      bool
	// Set by desired: what is applied, and whether the apply follows the
	// commit CI runs (applied only while the Deployment is at ifAt).
	spec   render.Application
	set    *render.ApplicationSet
	follow bool
	ifAt   map[engine.Ref]string
}

func (l *applicationLife) identity() (string, string, engine.Ref) {
	p, a := l.plan.Project.ValueString(), l.plan.Name.ValueString()
	return "idp_application", p + "/" + a, applicationAnchor(p, a)
}

// shape is taken before the webhook secret is written to Vault; with what
// CI writes later (the Deployment, routes and release record), which
// destroy deletes too.
func (l *applicationLife) shape(ctx context.Context, diags *diag.Diagnostics) []render.ID {
	spec, _ := l.plan.spec(ctx, diags)
	return render.InventoryOfApplication(spec.Project, spec.Name, spec.Domains).ApplyOrder()
}

func (l *applicationLife) desired(ctx context.Context, diags *diag.Diagnostics) []*unstructured.Unstructured {
	r, plan, prior := l.r, l.plan, l.prior
	// Unpinned, an update keeps the commit CI runs now, not the one the
	// plan saw (unknownCommit): applied only while the Deployment is still
	// at the version read, so a deploy landing meanwhile is followed.
	l.follow = prior != nil && !l.pinned && plan.Git.Hash.IsUnknown()
	if l.follow {
		l.ifAt = r.followCommit(ctx, plan, diags)
		if diags.HasError() {
			return nil
		}
	}
	l.set, l.spec = r.desired(ctx, plan, true, l.pinned, diags)
	if diags.HasError() {
		return nil
	}
	if prior != nil && prior.WebhookSecretRotation.ValueString() != plan.WebhookSecretRotation.ValueString() {
		r.rotateWebhookSecret(ctx, &l.spec, diags)
		if diags.HasError() {
			return nil
		}
		var err error
		if l.set, err = render.RenderApplication(l.spec); err != nil {
			diags.AddError("Rendering application", err.Error())
			return nil
		}
	}
	return l.set.All()
}

func (l *applicationLife) before(ctx context.Context, diags *diag.Diagnostics) []*unstructured.Unstructured {
	if l.prior == nil {
		return nil
	}
	priorSpec, _ := l.prior.spec(ctx, diags)
	priorSpec.Pinned = l.pinned // only the names matter: what the prior state had to prune
	_ = l.r.fillProviderSettings(&priorSpec, nil)
	set, err := render.RenderApplication(priorSpec)
	if err != nil {
		return nil
	}
	return set.All()
}

func (l *applicationLife) claim(ctx context.Context, desired []*unstructured.Unstructured, diags *diag.Diagnostics) {
	guardNames(ctx, l.r.data.Engine, render.ApplicationOwner(l.spec.Name), desired, diags)
}

// sync applies everything but the EventSource, records the deploy
// generation, then lets listenCI apply the EventSource and prune, and
// restarts pods onto a new app environment.
func (l *applicationLife) sync(ctx context.Context, before, _ []*unstructured.Unstructured, diags *diag.Diagnostics) []*unstructured.Unstructured {
	r, eng := l.r, l.r.data.Engine
	restart, err := r.needsRestart(ctx, l.spec)
	if err != nil {
		diags.AddError("Reading application", err.Error())
		return nil
	}
	// Everything but the EventSource first (listenCI applies it).
	for attempt := 1; ; attempt++ {
		_, err := eng.ApplyIf(ctx, l.ifAt, l.set.WithoutEventSource()...)
		if l.follow && errors.Is(err, engine.ErrConflict) && attempt < 5 {
			if l.ifAt = r.followCommit(ctx, l.plan, diags); diags.HasError() {
				return nil
			}
			l.spec.Hash = l.plan.Git.Hash.ValueString()
			if l.set, err = render.RenderApplication(l.spec); err != nil {
				diags.AddError("Rendering application", err.Error())
				return nil
			}
			continue
		}
		if err != nil {
			diags.AddError("Applying application", err.Error())
			return nil
		}
		break
	}
	// Runs made from an older template may deploy no longer (render's
	// deployGate): each resubmits its commit to this one.
	gen, err := render.DeployGeneration(l.spec)
	if err == nil {
		err = eng.ApplyAs(ctx, engine.GateFieldManager, render.ReleaseGate(l.spec, gen))
	}
	if err != nil {
		diags.AddError("Recording the deploy generation", err.Error())
		return nil
	}
	r.listenCI(ctx, l.spec, before, l.set, diags)
	if diags.HasError() {
		return nil
	}
	if restart {
		if err := eng.Restart(ctx, render.RestartPatch(l.spec, l.spec.AppSecret.Version)); err != nil {
			diags.AddError("Restarting the application onto its new environment", err.Error())
			return nil
		}
	}
	return l.set.All()
}

// wait waits for a commit's rollout and records its release.
func (l *applicationLife) wait(ctx context.Context, diags *diag.Diagnostics) {
	if l.spec.Hash == "" {
		return
	}
	if err := l.r.data.Engine.WaitRollout(ctx, toRef(render.DeploymentID(l.spec.Project, l.spec.Name))); err != nil {
		diags.AddError("Rollout did not complete", err.Error())
		return
	}
	if err := l.r.recordRelease(ctx, l.spec, l.follow); err != nil {
		diags.AddError("Recording the release", err.Error())
	}
}

// listenCI applies the EventSource, once the rest of desired is applied,
// and prunes what before had and desired has not. A new or restarted
// EventSource pod starts receiving pushes (and a new one registers GitHub's
// hook) at once, so the Sensor that turns them into Workflows must already
// run, and GitHub's existing hook must already sign with the secret the
// pod reads at start. With wait_for_ci the apply waits for each, and then
// for the EventSource's pod and GitHub's hook (application_ready.go).
func (r *applicationResource) listenCI(ctx context.Context, spec render.Application, before []*unstructured.Unstructured, desired *render.ApplicationSet, diags *diag.Diagnostics) {
	eng := r.data.Engine
	es, sensor := desired.EventSource(), desired.Sensor()
	gh, tok, hook := r.syncHook(ctx, spec, diags)
	if diags.HasError() {
		return
	}
	wait := r.data.set.WaitForCI
	readyCtx, cancel := context.WithTimeout(ctx, ciReadyTimeout)
	defer cancel()
	if wait {
		if err := waitEvents(readyCtx, eng, sensor); err != nil {
			diags.AddError("CI not listening", err.Error()+readyHint)
			return
		}
	}
	if _, err := eng.Apply(ctx, es); err != nil {
		diags.AddError("Applying application", err.Error())
		return
	}
	if err := eng.Prune(ctx, before, desired.All()); err != nil {
		diags.AddError("Applying application", err.Error())
		return
	}
	if !wait {
		return
	}
	if err := waitEvents(readyCtx, eng, es); err != nil {
		diags.AddError("CI not listening", err.Error()+readyHint)
		return
	}
	if gh != nil {
		r.checkHook(readyCtx, gh, tok, hook, spec, diags)
	}
}

// needsRestart reports whether the apply brings running pods a new version
// of their Vault environment (envFrom reads a Secret only at pod start): a
// Deployment runs, and the version its pods were restarted for, or else
// the one its Secret was last synced from, is a different, known one. An
// adopted Secret without our version annotation restarts nothing.
func (r *applicationResource) needsRestart(ctx context.Context, spec render.Application) (bool, error) {
	eng := r.data.Engine
	dep, err := eng.Get(ctx, toRef(render.DeploymentID(spec.Project, spec.Name)))
	if err != nil || dep == nil || spec.AppSecret.Values == nil {
		return false, err
	}
	want := strconv.Itoa(spec.AppSecret.Version)
	if v, ok := render.ParsePodAnnotations(dep)[render.AnnotationRestartedFor]; ok {
		return v != want, nil
	}
	sec, err := eng.Get(ctx, toRef(render.AppSecretID(spec.Project, spec.Name)))
	if err != nil || sec == nil {
		return false, err
	}
	v := sec.GetAnnotations()[render.AnnotationVaultVersion]
	return v != "" && v != want, nil
}

// desired renders the application with its current secrets. With write,
// the webhook secret is generated in Vault if it does not exist yet;
// refresh never writes.
func (r *applicationResource) desired(ctx context.Context, m *applicationModel, write, pinned bool, diags *diag.Diagnostics) (*render.ApplicationSet, render.Application) {
	spec, _ := m.spec(ctx, diags)
	spec.Pinned = pinned
	if err := r.fillProviderSettings(&spec, diags); err != nil {
		return nil, spec
	}
	// Absent in Vault: an empty Secret until it is written.
	app, found := r.data.readVault(ctx, vaultRead{Path: spec.AppSecret.Path, Attr: path.Root("app_secret_vault_path")}, diags)
	spec.AppSecret.Values = map[string]string{}
	if found {
		spec.AppSecret.Version, spec.AppSecret.Values = app.Version, app.Values
	}
	if write {
		kv, err := r.data.Engine.KV()
		var hook *engine.Secret
		if err == nil {
			hook, err = kv.Ensure(ctx, spec.WebhookSecret.Path, newWebhookSecret)
		}
		if err != nil {
			diags.AddError("Webhook secret", err.Error())
			return nil, spec
		}
		spec.WebhookSecret.Version, spec.WebhookSecret.Values = hook.Version, render.SecretValues(hook.Values)
	} else if hook, found := r.data.readVault(ctx, vaultRead{Path: spec.WebhookSecret.Path}, diags); found {
		// absent only on refresh of an application adopted from the old chart
		spec.WebhookSecret.Version, spec.WebhookSecret.Values = hook.Version, hook.Values
	}
	if diags.HasError() {
		return nil, spec
	}
	set, err := render.RenderApplication(spec)
	if err != nil {
		diags.AddError("Rendering application", err.Error())
	}
	return set, spec
}

func (r *applicationResource) rotateWebhookSecret(ctx context.Context, spec *render.Application, diags *diag.Diagnostics) {
	kv, err := r.data.Engine.KV()
	if err == nil {
		var values engine.Values
		if values, err = newWebhookSecret(); err == nil {
			var version int
			version, err = kv.Write(ctx, spec.WebhookSecret.Path, values, spec.WebhookSecret.Version)
			spec.WebhookSecret.Version, spec.WebhookSecret.Values = version, render.SecretValues(values)
		}
	}
	if err != nil {
		diags.AddAttributeError(path.Root("webhook_secret_rotation"), "Rotating the webhook secret failed", err.Error())
	}
}

func newWebhookSecret() (engine.Values, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return engine.Values{"secret": hex.EncodeToString(b)}, nil
}

// fillProviderSettings adds what the provider configuration decides:
// registry, webhook URL, GitHub server and the Vault mount. With diags nil it only
// reports whether they are known.
func (r *applicationResource) fillProviderSettings(spec *render.Application, diags *diag.Diagnostics) error {
	var err error
	report := func(e error) {
		if e != nil && err == nil {
			err = e
			if diags != nil {
				diags.AddError("Provider configuration", e.Error())
			}
		}
	}
	host, project, e := r.data.Registry()
	report(e)
	base, e := r.data.WebhookBaseURL()
	report(e)
	mount, e := r.data.set.KVMount.require()
	report(e)
	gh, e := r.data.set.GitHubBaseURL.get()
	report(e)
	spec.RegistryHost, spec.RegistryProject, spec.WebhookBaseURL, spec.GitHubBaseURL = host, project, base, gh
	spec.AppSecret.Mount, spec.WebhookSecret.Mount = mount, mount
	return err
}

const readyHint = ". Pushes are not built until it is. Set wait_for_ci = false (IDP_WAIT_FOR_CI) only while the Argo " +
	"Events controller is not installed yet."

// firstBuild submits a Workflow for the branch head, as the Sensor would
// for a push, so a new application goes live without waiting for one.
// A failure is a warning: the application exists and the next push builds.
func (r *applicationResource) firstBuild(ctx context.Context, m *applicationModel, diags *diag.Diagnostics) {
	g := m.Git
	head, err := r.data.branchHead(ctx, g.Owner.ValueString(), g.Repo.ValueString(), g.Branch.ValueString())
	if err == nil && head == "" {
		err = fmt.Errorf("no GitHub token is configured to resolve the head of %s", g.Branch.ValueString())
	}
	if err == nil {
		_, err = r.data.Engine.Create(ctx, render.BuildWorkflow(m.Project.ValueString(), m.Name.ValueString(), head))
	}
	if err == nil {
		// The catch-up takes over should this run not deploy.
		err = r.data.Engine.ApplyAs(ctx, render.CatchUpFieldManager, render.CatchUpNote(m.Project.ValueString(), m.Name.ValueString(), head))
	}
	if err != nil {
		diags.AddAttributeWarning(path.Root("build_on_create"), "First build not started",
			err.Error()+". The application is created; the next push to the branch builds it.")
	}
}
