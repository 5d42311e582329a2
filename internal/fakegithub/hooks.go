package fakegithub

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// hook is a repository webhook as GitHub stores it.
type hook struct {
	id           int64
	active       bool
	events       []string
	config       hookConfig
	created      time.Time
	updated      time.Time
	lastResponse map[string]any
}

type hookConfig struct {
	URL         string
	ContentType string // "json", or "form" (GitHub's default)
	InsecureSSL string // "0" or "1"
	Secret      string
}

// WebHook is a test's view of a registered hook, secret included (the REST
// API never returns it).
type WebHook struct {
	ID          int64
	Active      bool
	Events      []string
	URL         string
	ContentType string
	InsecureSSL string
	Secret      string
}

func (h *hook) view() WebHook {
	return WebHook{ID: h.id, Active: h.active, Events: slices.Clone(h.events), URL: h.config.URL,
		ContentType: h.config.ContentType, InsecureSSL: h.config.InsecureSSL, Secret: h.config.Secret}
}

// subscribed reports whether GitHub would send event to the hook.
func (w WebHook) subscribed(event string) bool {
	return w.Active && (slices.Contains(w.Events, event) || slices.Contains(w.Events, "*"))
}

// Hooks returns owner/repo's webhooks in creation order.
func (g *GitHub) Hooks(owner, repo string) []WebHook {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.repos[owner+"/"+repo]
	if !ok {
		return nil
	}
	var out []WebHook
	for _, h := range r.hooks {
		out = append(out, h.view())
	}
	return out
}

// WaitHook waits until owner/repo has an active hook subscribed to push
// (as Argo Events registers one when its event source starts) and returns
// it.
func (g *GitHub) WaitHook(ctx context.Context, owner, repo string) (WebHook, error) {
	for {
		for _, h := range g.Hooks(owner, repo) {
			if h.subscribed("push") {
				return h, nil
			}
		}
		select {
		case <-ctx.Done():
			return WebHook{}, fmt.Errorf("no active push webhook on %s/%s: %w", owner, repo, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// hookJSON is a hook as the REST API returns it: the secret is masked.
func (g *GitHub) hookJSON(full string, h *hook) map[string]any {
	cfg := map[string]any{"url": h.config.URL, "content_type": h.config.ContentType, "insecure_ssl": h.config.InsecureSSL}
	if h.config.Secret != "" {
		cfg["secret"] = "********"
	}
	self := fmt.Sprintf("%srepos/%s/hooks/%d", g.APIURL(), full, h.id)
	return map[string]any{
		"type": "Repository", "id": h.id, "name": "web", "active": h.active, "events": h.events, "config": cfg,
		"created_at": h.created.UTC().Format(time.RFC3339), "updated_at": h.updated.UTC().Format(time.RFC3339),
		"url": self, "test_url": self + "/test", "ping_url": self + "/pings", "deliveries_url": self + "/deliveries",
		"last_response": h.lastResponse,
	}
}

// hookRequest is the body of create and edit requests.
type hookRequest struct {
	Name         *string        `json:"name"`
	Config       map[string]any `json:"config"`
	Events       []string       `json:"events"`
	AddEvents    []string       `json:"add_events"`
	RemoveEvents []string       `json:"remove_events"`
	Active       *bool          `json:"active"`
}

// parseConfig reads a request's config; GitHub accepts insecure_ssl as a
// string or a number.
func parseConfig(m map[string]any, into *hookConfig) {
	str := func(k string) (string, bool) {
		switch v := m[k].(type) {
		case string:
			return v, true
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64), true
		}
		return "", false
	}
	if v, ok := str("url"); ok {
		into.URL = v
	}
	if v, ok := str("content_type"); ok {
		into.ContentType = v
	}
	if v, ok := str("insecure_ssl"); ok {
		into.InsecureSSL = v
	}
	if v, ok := str("secret"); ok {
		into.Secret = v
	}
}

func validationFailed(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest/repos/webhooks",
		"errors": []map[string]any{{"resource": "Hook", "code": "custom", "message": msg}},
	})
}

// serveHooks answers /repos/{owner}/{repo}/hooks[/{id}[/config|/pings]]
// with g.mu held.
func (g *GitHub) serveHooks(w http.ResponseWriter, r *http.Request, owner, name string, repo *fakeRepo, rest []string) {
	full := owner + "/" + name
	decode := func(v any) bool {
		if err := json.NewDecoder(r.Body).Decode(v); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/rest"})
			return false
		}
		return true
	}
	if len(rest) == 0 {
		switch r.Method {
		case http.MethodGet:
			out := []map[string]any{}
			for _, h := range repo.hooks {
				out = append(out, g.hookJSON(full, h))
			}
			writeJSON(w, http.StatusOK, out)
		case http.MethodPost:
			var req hookRequest
			if !decode(&req) {
				return
			}
			if req.Name != nil && *req.Name != "web" {
				validationFailed(w, "Name must be web for repository webhooks")
				return
			}
			cfg := hookConfig{ContentType: "form", InsecureSSL: "0"}
			parseConfig(req.Config, &cfg)
			if cfg.URL == "" {
				validationFailed(w, "Config must contain URL for webhooks")
				return
			}
			for _, h := range repo.hooks {
				if h.config.URL == cfg.URL {
					validationFailed(w, "Hook already exists on this repository")
					return
				}
			}
			now := time.Now()
			g.nextHookID++
			h := &hook{id: g.nextHookID, active: true, events: []string{"push"}, config: cfg, created: now, updated: now,
				lastResponse: map[string]any{"code": nil, "status": "unused", "message": nil}}
			if req.Active != nil {
				h.active = *req.Active
			}
			if len(req.Events) > 0 {
				h.events = slices.Clone(req.Events)
			}
			repo.hooks = append(repo.hooks, h)
			writeJSON(w, http.StatusCreated, g.hookJSON(full, h))
			// Like GitHub, ping a new active hook, after the response.
			if h.active {
				g.pingLocked(owner, name, repo, h)
			}
		default:
			notFound(w)
		}
		return
	}
	id, err := strconv.ParseInt(rest[0], 10, 64)
	i := slices.IndexFunc(repo.hooks, func(h *hook) bool { return h.id == id })
	if err != nil || i < 0 {
		notFound(w)
		return
	}
	h := repo.hooks[i]
	switch {
	case len(rest) == 1 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, g.hookJSON(full, h))
	case len(rest) == 1 && r.Method == http.MethodPatch:
		var req hookRequest
		if !decode(&req) {
			return
		}
		if req.Config != nil {
			// GitHub replaces the whole config: a secret left out is removed.
			cfg := hookConfig{ContentType: "form", InsecureSSL: "0"}
			parseConfig(req.Config, &cfg)
			if cfg.URL == "" {
				validationFailed(w, "Config must contain URL for webhooks")
				return
			}
			h.config = cfg
		}
		if req.Events != nil {
			h.events = slices.Clone(req.Events)
		}
		for _, e := range req.AddEvents {
			if !slices.Contains(h.events, e) {
				h.events = append(h.events, e)
			}
		}
		h.events = slices.DeleteFunc(h.events, func(e string) bool { return slices.Contains(req.RemoveEvents, e) })
		if req.Active != nil {
			h.active = *req.Active
		}
		h.updated = time.Now()
		writeJSON(w, http.StatusOK, g.hookJSON(full, h))
	case len(rest) == 1 && r.Method == http.MethodDelete:
		repo.hooks = slices.Delete(repo.hooks, i, i+1)
		w.WriteHeader(http.StatusNoContent)
	case len(rest) == 2 && rest[1] == "config" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, g.hookJSON(full, h)["config"])
	case len(rest) == 2 && rest[1] == "config" && r.Method == http.MethodPatch:
		// The config endpoint updates only the fields given.
		var m map[string]any
		if !decode(&m) {
			return
		}
		parseConfig(m, &h.config)
		h.updated = time.Now()
		writeJSON(w, http.StatusOK, g.hookJSON(full, h)["config"])
	case len(rest) == 2 && rest[1] == "pings" && r.Method == http.MethodPost:
		w.WriteHeader(http.StatusNoContent)
		g.pingLocked(owner, name, repo, h)
	default:
		notFound(w)
	}
}

// Dispatch is a repository_dispatch the fake GitHub accepted.
type Dispatch struct {
	Owner, Repo   string
	EventType     string
	ClientPayload map[string]any
}

// Dispatches returns the accepted repository_dispatch requests, oldest
// first.
func (g *GitHub) Dispatches() []Dispatch {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.dispatches)
}

// serveDispatch answers POST /repos/{owner}/{repo}/dispatches (the
// pipeline's dispatch mode) with g.mu held: 204, and the
// repository_dispatch event to subscribed hooks, in the background.
func (g *GitHub) serveDispatch(w http.ResponseWriter, r *http.Request, owner, name string, repo *fakeRepo) {
	var req struct {
		EventType     *string        `json:"event_type"`
		ClientPayload map[string]any `json:"client_payload"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	if req.EventType == nil || *req.EventType == "" || len(*req.EventType) > 100 || len(req.ClientPayload) > 10 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message":           "Invalid request.\n\nevent_type must be 1 to 100 characters and client_payload have at most 10 top-level properties.",
			"documentation_url": "https://docs.github.com/rest/repos/repos#create-a-repository-dispatch-event",
		})
		return
	}
	g.dispatches = append(g.dispatches, Dispatch{Owner: owner, Repo: name, EventType: *req.EventType, ClientPayload: req.ClientPayload})
	w.WriteHeader(http.StatusNoContent)
	body, _ := json.Marshal(map[string]any{
		"action": *req.EventType, "branch": repo.defaultBranch, "client_payload": req.ClientPayload,
		"repository": g.repoPayload(owner, name, repo, time.Now()), "sender": userPayload(owner),
	})
	target := repo.id
	for _, h := range repo.hooks {
		if v := h.view(); v.subscribed("repository_dispatch") {
			g.pending.Add(1)
			go func() {
				defer g.pending.Done()
				g.deliver(v, target, "repository_dispatch", body, SignValid)
			}()
		}
	}
}

// pingLocked sends the ping event GitHub sends to a new hook, in the
// background as GitHub does. Called with g.mu held.
func (g *GitHub) pingLocked(owner, name string, repo *fakeRepo, h *hook) {
	body, _ := json.Marshal(map[string]any{
		"zen": "Keep it logically awesome.", "hook_id": h.id, "hook": g.hookJSON(owner+"/"+name, h),
		"repository": g.repoPayload(owner, name, repo, time.Now()), "sender": userPayload(owner),
	})
	v, target := h.view(), repo.id
	g.pending.Add(1)
	go func() {
		defer g.pending.Done()
		g.deliver(v, target, "ping", body, SignValid)
	}()
}

// Signing says how a delivery is signed.
type Signing int

const (
	// SignValid signs with the hook's secret, as GitHub does (no
	// signature headers when the hook has no secret).
	SignValid Signing = iota
	// SignNone sends no signature headers.
	SignNone
	// SignWrong signs with a secret other than the hook's.
	SignWrong
)

// Delivery is one webhook POST the fake GitHub made and what came back.
type Delivery struct {
	ID         string // X-GitHub-Delivery
	HookID     int64  // 0 for DeliverRaw
	Event      string // X-GitHub-Event: push, ping, ...
	URL        string
	Header     http.Header // request headers sent
	Body       []byte      // request body sent
	StatusCode int         // 0 when no response came
	Response   []byte      // response body (at most 64 KiB)
	Err        error       // transport error
}

// DeliveryReport is one line per delivery so far, oldest first: event,
// URL, status and the first line of the answer (or the error), for a
// failing pipeline's report (stack.PipelineReport).
func (g *GitHub) DeliveryReport() []string {
	var out []string
	for _, d := range g.Deliveries() {
		resp := strings.TrimSpace(string(d.Response))
		if i := strings.IndexByte(resp, '\n'); i >= 0 {
			resp = resp[:i]
		}
		if d.Err != nil {
			resp = d.Err.Error()
		}
		out = append(out, fmt.Sprintf("webhook %s -> %s: HTTP %d %s", d.Event, d.URL, d.StatusCode, resp))
	}
	return out
}

// Deliveries returns every delivery so far, oldest first.
func (g *GitHub) Deliveries() []Delivery {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.deliveries)
}

// DeliverRaw POSTs body to url with exactly header (no signature added)
// and records it like a hook delivery, for tests of what a receiver does
// with forged or unsigned requests.
func (g *GitHub) DeliverRaw(url string, header http.Header, body []byte) Delivery {
	return g.post(Delivery{ID: header.Get("X-GitHub-Delivery"), Event: header.Get("X-GitHub-Event"), URL: url, Header: header.Clone(), Body: body}, false)
}

// deliver sends event's JSON payload to hook h the way GitHub does.
func (g *GitHub) deliver(h WebHook, repoID int64, event string, payload []byte, sign Signing) Delivery {
	body, ctype := payload, "application/json"
	if h.ContentType != "json" {
		// "form" (the default): the JSON is the payload form field.
		body, ctype = []byte("payload="+url.QueryEscape(string(payload))), "application/x-www-form-urlencoded"
	}
	id := newUUID()
	hdr := http.Header{}
	hdr.Set("Content-Type", ctype)
	hdr.Set("User-Agent", g.userAgent)
	hdr.Set("X-GitHub-Event", event)
	hdr.Set("X-GitHub-Delivery", id)
	hdr.Set("X-GitHub-Hook-ID", strconv.FormatInt(h.ID, 10))
	hdr.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(repoID, 10))
	hdr.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
	if u, err := url.Parse(g.URL); err == nil {
		hdr.Set("X-GitHub-Enterprise-Host", u.Hostname())
	}
	hdr.Set("X-GitHub-Enterprise-Version", "3.13.0")
	secret := h.Secret
	if sign == SignWrong {
		secret = "not-" + secret
	}
	if secret != "" && sign != SignNone {
		hdr.Set("X-Hub-Signature", "sha1="+hmacHex(sha1.New, secret, body))
		hdr.Set("X-Hub-Signature-256", "sha256="+hmacHex(sha256.New, secret, body))
	}
	d := g.post(Delivery{ID: id, HookID: h.ID, Event: event, URL: h.URL, Header: hdr, Body: body}, h.InsecureSSL == "1")
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range g.repos {
		for _, rh := range r.hooks {
			if rh.id == h.ID {
				rh.lastResponse = lastResponse(d)
			}
		}
	}
	return d
}

func lastResponse(d Delivery) map[string]any {
	switch {
	case d.Err != nil:
		return map[string]any{"code": nil, "status": "misconfigured", "message": d.Err.Error()}
	case d.StatusCode >= 200 && d.StatusCode < 300:
		return map[string]any{"code": d.StatusCode, "status": "active", "message": "OK"}
	default:
		return map[string]any{"code": d.StatusCode, "status": "active", "message": fmt.Sprintf("Invalid HTTP Response: %d", d.StatusCode)}
	}
}

func hmacHex(h func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// post makes the request (GitHub's 10 s timeout, no redirects, no proxy)
// and records it.
func (g *GitHub) post(d Delivery, insecure bool) Delivery {
	tr := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{InsecureSkipVerify: insecure}} //nolint:gosec // the hook's insecure_ssl says so
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest(http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err == nil {
		req.Header = d.Header.Clone()
		var resp *http.Response
		if resp, err = c.Do(req); err == nil {
			d.StatusCode = resp.StatusCode
			d.Response, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
	}
	d.Err = err
	g.mu.Lock()
	g.deliveries = append(g.deliveries, d)
	g.mu.Unlock()
	return d
}

// repoPayload is the "repository" object of webhook payloads. As on
// GitHub, its url is the HTML URL and timestamps are Unix seconds.
func (g *GitHub) repoPayload(owner, name string, r *fakeRepo, now time.Time) map[string]any {
	full := owner + "/" + name
	host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(g.URL, "http://"), "https://"), "/")
	return map[string]any{
		"id": r.id, "node_id": fmt.Sprintf("R_%d", r.id), "name": name, "full_name": full, "private": true,
		"owner":    map[string]any{"name": owner, "login": owner, "id": 1, "type": "Organization", "html_url": g.URL + owner},
		"html_url": g.URL + full, "url": g.URL + full, "clone_url": g.GitURL(owner, name),
		"git_url": "git://" + host + "/" + full + ".git", "ssh_url": "git@" + host + ":" + full + ".git",
		"default_branch": r.defaultBranch, "master_branch": r.defaultBranch,
		"created_at": now.Unix(), "pushed_at": now.Unix(), "updated_at": now.UTC().Format(time.RFC3339),
	}
}

func userPayload(login string) map[string]any {
	return map[string]any{"login": login, "id": 1, "type": "User", "site_admin": false}
}
