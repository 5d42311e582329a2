package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// GitHub calls the provider makes. Plans and first builds need the
// provider's token and are skipped (no error, no result) without one; the
// webhook upkeep of applies (github_hooks.go) uses the project's.

// githubCheckTimeout bounds the whole plan-time repository check: a plan
// must fail with a reason, not hang, when GitHub does not answer. GitHub
// answers these calls in well under a second. A variable for tests.
var githubCheckTimeout = 15 * time.Second

// githubRequestTimeout bounds every single GitHub request, including the
// apply-time ones (first builds, the data source).
const githubRequestTimeout = 30 * time.Second

// branchHead returns the head commit of owner/repo's branch, or "" without
// a GitHub token.
func (d *ProviderData) branchHead(ctx context.Context, owner, repo, branch string) (string, error) {
	gh, err := d.GitHub()
	if err != nil || gh == nil || owner == "" {
		return "", err
	}
	return branchHeadWith(ctx, gh, providerToken, owner, repo, branch)
}

func branchHeadWith(ctx context.Context, gh *github.Client, tok tokenSource, owner, repo, branch string) (string, error) {
	b, resp, err := gh.Repositories.GetBranch(ctx, owner, repo, branch, 1)
	if err != nil {
		return "", githubError(err, resp, tok, owner, repo, branch)
	}
	return b.GetCommit().GetSHA(), nil
}

// checkRepository verifies at plan, before anything is applied, that the
// repository and branch exist and that the token CI will use may manage the
// repository's webhooks (the project's EventSource registers the push
// webhook with it). It is skipped without a provider GitHub token, and when
// any input is unknown at plan; it gives up after githubCheckTimeout.
func (d *ProviderData) checkRepository(ctx context.Context, project, owner, repo, branch types.String) error {
	for _, v := range []types.String{project, owner, repo, branch} {
		if v.IsUnknown() || v.IsNull() {
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, githubCheckTimeout)
	defer cancel()
	gh, tok, err := d.ciGitHub(ctx, project.ValueString())
	if err != nil || gh == nil {
		return err
	}
	o, rp := owner.ValueString(), repo.ValueString()
	err = func() error {
		r, resp, err := gh.Repositories.Get(ctx, o, rp)
		if err != nil {
			return githubError(err, resp, tok, o, rp, "")
		}
		if !r.GetPermissions()["admin"] {
			return fmt.Errorf("the GitHub token lacks admin access to %s/%s, which creating its push webhook needs (token: %s)", o, rp, tok)
		}
		_, err = branchHeadWith(ctx, gh, tok, o, rp, branch.ValueString())
		return err
	}()
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("GitHub (%s) did not answer within %s while checking %s/%s: check github.base_url and that "+
			"GitHub is reachable from where tofu runs, or unset github.token (GITHUB_TOKEN) to skip plan-time GitHub checks",
			gh.BaseURL, githubCheckTimeout, o, rp)
	}
	return err
}

// tokenSource names where a token came from, for errors; never the token.
type tokenSource string

const providerToken tokenSource = "github.token / GITHUB_TOKEN"

// ciGitHub returns a client with the token the project's CI will use, for
// the plan-time check: nil without a provider token (plans contact GitHub
// only when the provider has one), or when any input is unknown at plan.
func (d *ProviderData) ciGitHub(ctx context.Context, project string) (*github.Client, tokenSource, error) {
	if d.set.GitHubTokenUnknown || d.set.GitHubBaseURL.unknown || d.set.VaultUnknown {
		return nil, "", nil
	}
	if gh, err := d.GitHub(); err != nil || gh == nil {
		return gh, providerToken, err
	}
	gh, tok, err := d.projectGitHub(ctx, project)
	if err != nil {
		return nil, "", fmt.Errorf("reading the GitHub token that CI uses, to check the repository with it: %w", err)
	}
	return gh, tok, nil
}

// projectGitHub returns a client with the token the project's CI uses: the
// `token` key of the project's GitHub secret in Vault (the contract's
// M/P-github-access, which idp_project syncs into P-github-access-secret for
// the EventSource). It falls back to the provider's token when Vault is not
// configured or holds no such secret (a custom github_access_vault_path);
// nil when neither exists.
func (d *ProviderData) projectGitHub(ctx context.Context, project string) (*github.Client, tokenSource, error) {
	if d.set.VaultConfigured {
		s, err := d.vaultSecret(ctx, render.GitHubAccessVaultPath(project), 0)
		if err != nil {
			return nil, "", err
		}
		if tok := s.Values["token"]; tok != "" {
			c, err := newGitHubClient(d.cfg, tok)
			return c, tokenSource(fmt.Sprintf("Vault %s, key token, which the project's CI uses", s.FullPath())), err
		}
	}
	gh, err := d.GitHub()
	return gh, providerToken, err
}

// githubError explains a failed call by its status code. (Some go-github
// calls, such as GetBranch, return a plain error and only the response.)
func githubError(err error, resp *github.Response, tok tokenSource, owner, repo, branch string) error {
	msg := err.Error()
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		msg = er.Message
	}
	if resp == nil || resp.Response == nil {
		return fmt.Errorf("GitHub: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("the GitHub token was rejected (401): check %s", tok)
	case http.StatusForbidden:
		return fmt.Errorf("the GitHub token lacks access to %s/%s (403): %s (token: %s)", owner, repo, msg, tok)
	case http.StatusNotFound:
		if branch != "" {
			return branchNotFound{fmt.Sprintf("branch %q not found in %s/%s", branch, owner, repo)}
		}
		return fmt.Errorf("repository %s/%s not found, or the GitHub token cannot see it (token: %s)", owner, repo, tok)
	}
	if resp.StatusCode >= 500 {
		return fmt.Errorf("GitHub (%s) answered %s: GitHub is failing, not your configuration. "+
			"Apply again once it recovers, or unset github.token (GITHUB_TOKEN) to skip plan-time GitHub checks",
			resp.Request.URL.Host, resp.Status)
	}
	return fmt.Errorf("GitHub: %s", msg)
}

// branchNotFound is GitHub's 404 for a branch of a repository it shows: a
// deleted branch, which the data source reports without failing.
type branchNotFound struct{ msg string }

func (e branchNotFound) Error() string { return e.msg }
