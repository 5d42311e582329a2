package render

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// GitHubServer is where applications' repositories live: github.com, or a
// GitHub Enterprise server given by the provider's github.base_url.
type GitHubServer struct {
	Enterprise bool
	APIURL     string // REST API, ending in "/": https://ghe.example.com/api/v3/
	UploadURL  string // uploads API, ending in "/"
	// GitHost is host[:port] (and any path prefix) that repositories are
	// cloned from: <GitHost>/<owner>/<repo>.git.
	GitHost string
	// HTTP: the server speaks plain http (a test server), so git must not
	// use https.
	HTTP bool
}

var publicGitHub = GitHubServer{APIURL: "https://api.github.com/", UploadURL: "https://uploads.github.com/", GitHost: "github.com"}

// WebhookURL is where GitHub posts A's pushes: the public base URL joined
// with the EventSource's endpoint the way Argo Events joins them when it
// registers the webhook (util.FormattedURL).
func WebhookURL(base, p, a string) string {
	return strings.TrimRight(base, "/") + WebhookEndpoint(p, a)
}

var dnsHost = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?\.?$`)

// WebhookHost checks the provider's webhook_base_url and returns the host
// the webhook route matches: without the port, which Traefik's Host()
// ignores in requests too.
//
// The URL may not have a path. GitHub posts to <base URL><endpoint>, but
// the EventSource serves the endpoint alone (/<P>-<A>, the contract's), and
// the route forwards a request's path as it is.
func WebhookHost(base string) (string, error) {
	u, err := parseHTTPURL(base)
	if err != nil {
		return "", fmt.Errorf("%w; it must be the public URL GitHub posts webhooks to, such as https://webhook.example.com", err)
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) == nil && !dnsHost.MatchString(host) {
		return "", fmt.Errorf("%q: host %q is not a DNS name or an IP address", base, u.Hostname())
	}
	if path := strings.TrimRight(u.Path, "/"); path != "" {
		return "", fmt.Errorf("%q has a path (%s): GitHub would post to %s, but the EventSource serves "+
			"only %s and the webhook route passes paths on unchanged; use a URL without a path, such as %s://%s",
			base, path, WebhookURL(base, "<project>", "<application>"), WebhookEndpoint("<project>", "<application>"), u.Scheme, u.Host)
	}
	return host, nil
}

// parseHTTPURL accepts an absolute http(s) URL without credentials, query
// or fragment.
func parseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL: %v", raw, err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("%q is not an http:// or https:// URL with a host", raw)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%q has credentials, a query or a fragment", raw)
	}
	return u, nil
}
