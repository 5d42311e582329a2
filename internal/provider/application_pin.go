package provider

import (
	"context"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
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

type privateState interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

func pinnedPrivate(ctx context.Context, p privateState) bool {
	b, _ := p.GetKey(ctx, privatePinned)
	return string(b) == "true"
}

func setPinned(ctx context.Context, p interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}, pinned bool) diag.Diagnostics {
	return p.SetKey(ctx, privatePinned, []byte(strconv.FormatBool(pinned)))
}
