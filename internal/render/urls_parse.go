package render

import (
	"fmt"
	"strings"
)

// Parsers of the provider's URL settings.

// ParseGitHubBaseURL reads github.base_url much as go-github's
// WithEnterpriseURLs does: the server root (https://ghe.example.com/) or its
// API (https://ghe.example.com/api/v3/); an api.* host is the API itself.
// "" and github.com's own URLs are github.com. The provider's GitHub client
// and the pipeline (Argo Events' webhook registration, kaniko's clone) all
// take their URLs from here, so they reach the same server.
func ParseGitHubBaseURL(base string) (GitHubServer, error) {
	if strings.TrimSpace(base) == "" {
		return publicGitHub, nil
	}
	u, err := parseHTTPURL(base)
	if err != nil {
		return GitHubServer{}, fmt.Errorf("%w; it must be a GitHub Enterprise server's URL, such as https://github.example.com/", err)
	}
	switch strings.ToLower(u.Host) {
	case "github.com", "www.github.com", "api.github.com":
		return publicGitHub, nil
	}
	root := strings.TrimSuffix(u.Path, "/")
	s := GitHubServer{Enterprise: true, HTTP: u.Scheme == "http"}
	if strings.HasPrefix(strings.ToLower(u.Host), "api.") {
		// GitHub Enterprise Cloud with data residency: api.<name>.ghe.com
		// is the API, <name>.ghe.com serves git.
		s.APIURL = u.Scheme + "://" + u.Host + root + "/"
		s.UploadURL = s.APIURL
		s.GitHost = u.Host[len("api."):] + root
		return s, nil
	}
	root = strings.TrimSuffix(root, "/api/v3")
	s.APIURL = u.Scheme + "://" + u.Host + root + "/api/v3/"
	s.UploadURL = u.Scheme + "://" + u.Host + root + "/api/uploads/"
	s.GitHost = u.Host + root
	return s, nil
}
