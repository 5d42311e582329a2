package engine

import (
	"net/http"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// traceRequests logs every request to the API server at trace level (TF_LOG_PROVIDER=TRACE):
// method and path only, never bodies. make bench's request counts per object
// come from it.
type traceRequests struct{ next http.RoundTripper }

func (t traceRequests) RoundTrip(req *http.Request) (*http.Response, error) {
	tflog.Trace(req.Context(), "kubernetes request", map[string]any{"method": req.Method, "path": req.URL.Path})
	return t.next.RoundTrip(req)
}
