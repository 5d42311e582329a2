package provider

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// The push webhook of an application's repository is the provider's to keep
// in line with Vault. Argo Events registers it, but when a hook with the
// same URL exists it reuses it and never updates its secret: after an
// import (the old chart's hooks have none), a destroy and re-create that
// left the hook, or a rotation, GitHub would keep signing with a secret
// nobody checks against.

// syncHook makes the repository's existing webhook for url carry secret,
// JSON payloads and push events. It returns whether there was one. It
// never creates one: Argo Events does when the EventSource starts, so
// GitHub delivers only once something listens (a hook made at apply would
// send the first pushes into a void), and two registrations cannot race
// into duplicate hooks. Secrets go to GitHub only; errors never carry them.
func syncHook(ctx context.Context, gh *github.Client, tok tokenSource, owner, repo, url, secret string) (bool, error) {
	h, err := findHook(ctx, gh, tok, owner, repo, url)
	if err != nil || h == nil {
		return false, err
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
	if _, resp, err := gh.Repositories.EditHook(ctx, owner, repo, h.GetID(), want); err != nil {
		return true, fmt.Errorf("updating the push webhook of %s/%s: %w", owner, repo, githubError(err, resp, tok, owner, repo, ""))
	}
	return true, nil
}

// deleteHook removes the repository's webhook for url, if any.
func deleteHook(ctx context.Context, gh *github.Client, tok tokenSource, owner, repo, url string) error {
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

// syncHook makes the application's push webhook, if GitHub has one, sign
// with the secret in Vault, with the token CI uses. Without a GitHub token
// it leaves the hook to Argo Events.
func (r *applicationResource) syncHook(ctx context.Context, spec render.Application, diags *diag.Diagnostics) {
	secret := spec.WebhookSecret.Values["secret"]
	if secret == "" || spec.Dispatch != nil && spec.WebhookBaseURL == "" {
		return
	}
	gh, tok, err := r.data.ciGitHub(ctx, spec.Project)
	if err == nil && gh != nil {
		_, err = syncHook(ctx, gh, tok, spec.Owner, spec.Repo, render.WebhookURL(spec.WebhookBaseURL, spec.Project, spec.Name), secret)
	}
	if err != nil {
		diags.AddAttributeError(path.Root("git"), "GitHub webhook not updated",
			err.Error()+". Pushes are signed with the secret GitHub holds; re-apply once GitHub is reachable.")
	}
}

// deleteHook removes the application's push webhook on destroy; a failure
// is a warning (the application is gone; the hook then only fails).
func (r *applicationResource) deleteHook(ctx context.Context, spec render.Application, diags *diag.Diagnostics) {
	gh, tok, err := r.data.ciGitHub(ctx, spec.Project)
	if err == nil && gh != nil {
		err = deleteHook(ctx, gh, tok, spec.Owner, spec.Repo, render.WebhookURL(spec.WebhookBaseURL, spec.Project, spec.Name))
	}
	if err != nil {
		diags.AddWarning("GitHub webhook left in place", err.Error())
	}
}
