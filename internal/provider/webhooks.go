package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// The push webhook of an application's repository is the provider's to keep
// in line with Vault. Argo Events registers it, but when a hook with the
// same URL exists it reuses it and never updates its secret: after an
// import (the old chart's hooks have none), a destroy and re-create that
// left the hook, or a rotation, GitHub would keep signing with a secret
// nobody checks against.

// signHook makes the repository's existing webhook for url carry secret,
// JSON payloads and push events, and returns it as GitHub now has it (nil
// when there is none). It
// never creates one: Argo Events does when the EventSource starts, so
// GitHub delivers only once something listens (a hook made at apply would
// send the first pushes into a void), and two registrations cannot race
// into duplicate hooks. Secrets go to GitHub only; errors never carry them.
func signHook(ctx context.Context, gh *github.Client, tok tokenSource, owner, repo, url, secret string) (*github.Hook, error) {
	h, err := findHook(ctx, gh, tok, owner, repo, url)
	if err != nil || h == nil {
		return nil, err
	}
	// GitHub never returns a secret, so whether it matches cannot be
	// known: it is always written.
	want := &github.Hook{
		Config: &github.HookConfig{
			URL: github.String(url), ContentType: github.String("json"), InsecureSSL: github.String("0"),
			Secret: github.String(secret),
		},
		Events: []string{"push"},
		Active: github.Bool(true),
	}
	h, resp, err := gh.Repositories.EditHook(ctx, owner, repo, h.GetID(), want)
	if err != nil {
		return nil, fmt.Errorf("updating the push webhook of %s/%s: %w", owner, repo, githubError(err, resp, tok, owner, repo, ""))
	}
	return h, nil
}

// removeHook removes the repository's webhook for url, if any.
func removeHook(ctx context.Context, gh *github.Client, tok tokenSource, owner, repo, url string) error {
	h, err := findHook(ctx, gh, tok, owner, repo, url)
	if err != nil || h == nil {
		return err
	}
	if resp, err := gh.Repositories.DeleteHook(ctx, owner, repo, h.GetID()); err != nil && (resp == nil || resp.StatusCode != 404) {
		return fmt.Errorf("deleting the push webhook of %s/%s: %w", owner, repo, githubError(err, resp, tok, owner, repo, ""))
	}
	return nil
}

func findHook(ctx context.Context, gh *github.Client, tok tokenSource, owner, repo, url string) (*github.Hook, error) {
	opts := &github.ListOptions{PerPage: 100}
	for {
		hooks, resp, err := gh.Repositories.ListHooks(ctx, owner, repo, opts)
		if err != nil {
			return nil, fmt.Errorf("listing the webhooks of %s/%s: %w", owner, repo, githubError(err, resp, tok, owner, repo, ""))
		}
		for _, h := range hooks {
			if h.GetConfig().GetURL() == url {
				return h, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
}

// hookGitHub returns the client for an application's webhook upkeep, with
// the token its CI uses, or nil: with github.sync_hooks off, or when no
// token is known (then with a warning: nothing can be checked, and an
// error would block every apply of such a project).
func (d *ProviderData) hookGitHub(ctx context.Context, project string, diags *diag.Diagnostics) (*github.Client, tokenSource, error) {
	if !d.set.SyncHooks {
		return nil, "", nil
	}
	gh, tok, err := d.projectGitHub(ctx, project)
	if err != nil {
		return nil, "", fmt.Errorf("reading the GitHub token that CI uses: %w", err)
	}
	if gh == nil {
		diags.AddAttributeWarning(path.Root("git"), "GitHub webhook not checked", fmt.Sprintf(
			"No GitHub token: Vault %s/%s has no key token and github.token (GITHUB_TOKEN) is not set, so the push "+
				"webhook is neither re-signed with the secret in Vault nor checked. Set one of them, or set github.sync_hooks "+
				"= false (IDP_GITHUB_SYNC_HOOKS) to skip this on purpose.", d.set.KVMount.val, render.GitHubAccessVaultPath(project)))
	}
	return gh, tok, nil
}

// signHook makes the application's push webhook, if GitHub has one, sign
// with the secret in Vault. It returns the client it used (nil when the
// upkeep is off or impossible) and the hook (nil when there is none yet).
func (r *applicationResource) syncHook(ctx context.Context, spec render.Application, diags *diag.Diagnostics) (*github.Client, tokenSource, *github.Hook) {
	secret := spec.WebhookSecret.Values["secret"]
	if secret == "" || spec.Dispatch != nil && spec.WebhookBaseURL == "" {
		return nil, "", nil
	}
	gh, tok, err := r.data.hookGitHub(ctx, spec.Project, diags)
	var h *github.Hook
	if err == nil && gh != nil {
		h, err = signHook(ctx, gh, tok, spec.Owner, spec.Repo, render.WebhookURL(spec.WebhookBaseURL, spec.Project, spec.Name), secret)
	}
	if err != nil {
		diags.AddAttributeError(path.Root("git"), "GitHub webhook not updated",
			err.Error()+". Pushes are signed with the secret GitHub holds; re-apply once GitHub is reachable, or set "+
				"github.sync_hooks = false (IDP_GITHUB_SYNC_HOOKS) where tofu cannot reach GitHub.")
		return nil, "", nil
	}
	return gh, tok, h
}

// hookPollInterval is how often the apply asks GitHub whether the
// EventSource has registered its hook (GitHub's rate limit: 5,000 an hour).
const hookPollInterval = 2 * time.Second

// checkHook fails the apply unless GitHub has the application's push
// webhook, active: h as syncHook found it, or else the one the EventSource
// (just started) registers, which it then re-signs like syncHook. ctx
// bounds the wait.
func (r *applicationResource) checkHook(ctx context.Context, gh *github.Client, tok tokenSource, h *github.Hook, spec render.Application, diags *diag.Diagnostics) {
	url := render.WebhookURL(spec.WebhookBaseURL, spec.Project, spec.Name)
	var err error
	for h == nil && err == nil {
		if !engine.Sleep(ctx, hookPollInterval) {
			break
		}
		h, err = signHook(ctx, gh, tok, spec.Owner, spec.Repo, url, spec.WebhookSecret.Values["secret"])
	}
	switch {
	case h == nil && (err == nil || ctx.Err() != nil):
		err = fmt.Errorf("hook not registered: %s/%s has no push webhook for %s after the apply waited for it (at most %s). "+
			"The EventSource registers it when its pod starts, with the token of the Secret %s: check its logs "+
			"(kubectl -n %s logs -l %s), that the token may manage the repository's webhooks (admin), and that the pod "+
			"reaches GitHub (github.base_url)", spec.Owner, spec.Repo, url, ciReadyTimeout, render.GitHubAccessSecret(spec.Project),
			render.Namespace(spec.Project), render.EventsDeploymentSelector("EventSource", render.EventSource(spec.Project, spec.Name)))
	case err == nil && !h.GetActive():
		err = fmt.Errorf("hook inactive: the push webhook %s of %s/%s is inactive, so GitHub sends it no events. Activate "+
			"it in the repository's settings (Webhooks), or delete it and apply again so that the EventSource registers a new one",
			url, spec.Owner, spec.Repo)
	}
	if err != nil {
		diags.AddAttributeError(path.Root("git"), "GitHub webhook not ready", err.Error()+
			". Where tofu cannot reach GitHub, set github.sync_hooks = false (IDP_GITHUB_SYNC_HOOKS).")
	}
}

// removeHook removes the application's push webhook on destroy; a failure
// is a warning (the application is gone; the hook then only fails).
func (r *applicationResource) deleteHook(ctx context.Context, spec render.Application, diags *diag.Diagnostics) {
	gh, tok, err := r.data.hookGitHub(ctx, spec.Project, diags)
	if err == nil && gh != nil {
		err = removeHook(ctx, gh, tok, spec.Owner, spec.Repo, render.WebhookURL(spec.WebhookBaseURL, spec.Project, spec.Name))
	}
	if err != nil {
		diags.AddWarning("GitHub webhook left in place", err.Error())
	}
}
