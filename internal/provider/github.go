package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-github/v60/github"
)

// GitHub calls the provider makes. All are skipped (no error, no result)
// when no GitHub token is configured.

// branchHead returns the head commit of owner/repo's branch, or "" without
// a GitHub token.
func (d *ProviderData) branchHead(ctx context.Context, owner, repo, branch string) (string, error) {
	gh, err := d.GitHub()
	if err != nil || gh == nil || owner == "" {
		return "", err
	}
	b, resp, err := gh.Repositories.GetBranch(ctx, owner, repo, branch, 1)
	if err != nil {
		return "", githubError(err, resp, owner, repo, branch)
	}
	return b.GetCommit().GetSHA(), nil
}

// checkRepository verifies, before anything is applied, that the repository
// and branch exist and that the token may manage the repository's webhooks
// (Argo Events registers the push webhook with it). It returns the branch
// head; "" without a GitHub token.
func (d *ProviderData) checkRepository(ctx context.Context, owner, repo, branch string) (string, error) {
	gh, err := d.GitHub()
	if err != nil || gh == nil {
		return "", err
	}
	r, resp, err := gh.Repositories.Get(ctx, owner, repo)
	if err != nil {
		return "", githubError(err, resp, owner, repo, "")
	}
	if !r.GetPermissions()["admin"] {
		return "", fmt.Errorf("the GitHub token lacks admin access to %s/%s, which creating its push webhook needs", owner, repo)
	}
	return d.branchHead(ctx, owner, repo, branch)
}

// githubError explains a failed call by its status code. (Some go-github
// calls, such as GetBranch, return a plain error and only the response.)
func githubError(err error, resp *github.Response, owner, repo, branch string) error {
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
		return fmt.Errorf("the GitHub token was rejected (401): check github.token / GITHUB_TOKEN")
	case http.StatusForbidden:
		return fmt.Errorf("the GitHub token lacks access to %s/%s (403): %s", owner, repo, msg)
	case http.StatusNotFound:
		if branch != "" {
			return fmt.Errorf("branch %q not found in %s/%s", branch, owner, repo)
		}
		return fmt.Errorf("repository %s/%s not found, or the GitHub token cannot see it", owner, repo)
	}
	return fmt.Errorf("GitHub: %s", msg)
}
