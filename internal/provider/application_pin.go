package provider

import (
	"context"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// Who owns the commit: a pin (git.hash) and the private state that remembers it.

// pinnedIn reports whether a configuration pins the commit (an unknown
// hash will be one).
func pinnedIn(config *applicationModel) bool {
	return config.Git != nil && !config.Git.Hash.IsNull()
}

// The private state remembers whether the commit is pinned: refresh must
// render the same WorkflowTemplate (with or without deploy steps) as the
// last apply, and the state's hash alone cannot tell.
const privatePinned = "pinned"

func pinnedPrivate(ctx context.Context, p privateData) bool {
	b, _ := p.GetKey(ctx, privatePinned)
	return string(b) == "true"
}

func setPinned(ctx context.Context, p privateData, pinned bool) diag.Diagnostics {
	return p.SetKey(ctx, privatePinned, []byte(strconv.FormatBool(pinned)))
}

// While unpinned, CI owns the commit, and the one a plan saw may be stale
// by the time it is applied: the plan was saved (`plan -out`), waited at
// the approval prompt, or skipped refresh. So an update of an unpinned
// application that runs a commit plans the commit and the image as known
// only after apply, and the apply deploys the commit live then
// (followCommit). The Deployment's fingerprint leaves its image out
// (render.Fingerprint), so `objects` stays known. A plan with no other
// change keeps the commit, so it stays empty; one made before the first
// deploy keeps none, and its apply leaves a Deployment CI made meanwhile
// to the next plan.
func unknownCommit(plan *applicationModel, state *applicationModel) {
	if state.Git == nil || state.Git.Hash.IsNull() {
		return
	}
	plan.Git.Hash, plan.Image = types.StringUnknown(), types.StringUnknown()
}

// liveCommit is the commit application a runs now, as an apply must keep
// it: the Deployment's image tag (with the Deployment's resourceVersion,
// so the apply can be made conditional on nothing having deployed since),
// or the release record's when the Deployment is gone, or "" when nothing
// was ever deployed.
func liveCommit(ctx context.Context, eng *engine.Engine, p, a string) (commit, resourceVersion string, err error) {
	dep, err := eng.Get(ctx, toRef(render.DeploymentID(p, a)))
	if err != nil {
		return "", "", err
	}
	if dep != nil {
		if tag := render.ImageTag(render.ContainerImage(dep, render.Deployment(a))); tag != "" {
			return tag, dep.GetResourceVersion(), nil
		}
	}
	cm, err := eng.Get(ctx, toRef(render.ReleaseConfigMapID(p, a)))
	if err != nil {
		return "", "", err
	}
	return render.ParseReleaseConfigMap(cm), "", nil
}

// followCommit sets plan's commit to the one live now (liveCommit) and
// returns the condition its apply must hold to: the Deployment still at
// the version read.
func (r *applicationResource) followCommit(ctx context.Context, plan *applicationModel, diags *diag.Diagnostics) map[engine.Ref]string {
	p, a := plan.Project.ValueString(), plan.Name.ValueString()
	commit, rv, err := liveCommit(ctx, r.data.Engine, p, a)
	if err != nil {
		diags.AddError("Reading the deployed commit", err.Error())
		return nil
	}
	plan.Git.Hash = types.StringNull()
	if commit != "" {
		plan.Git.Hash = types.StringValue(commit)
	}
	if rv == "" {
		return nil
	}
	return map[engine.Ref]string{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: render.Namespace(p), Name: render.Deployment(a)}: rv}
}

// recordRelease writes the release record after tofu rolled spec.Hash out.
// Unpinned (follow), CI may have deployed a newer commit since, and its
// own record step writes it: the record never moves back to ours.
func (r *applicationResource) recordRelease(ctx context.Context, spec render.Application, follow bool) error {
	eng := r.data.Engine
	if follow {
		commit, _, err := liveCommit(ctx, eng, spec.Project, spec.Name)
		if err != nil || commit != spec.Hash {
			return err
		}
	}
	_, err := eng.Apply(ctx, render.ReleaseRecord(spec, spec.Hash))
	return err
}
