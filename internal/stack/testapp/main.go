// Command testapp is the application the end-to-end tests push to the fake
// GitHub: kaniko builds it into an image (FROM scratch) and the cluster runs
// it. It answers every request with the contents of /version, which each
// test commit changes, so a response tells which commit is serving.
//
// The same binary is also /bin/sleep in that image: the Deployment's
// preStop hook runs `sleep 10`. `testapp probe`, a RUN step of the
// Dockerfile, records what a build could do with the cluster's API in
// /probe, which the app then serves. A /version starting with "broken"
// never listens, so its rollout never becomes Ready.
package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const tokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// probe tries what a hostile Dockerfile would: read the pod's service
// account token and list Secrets with it (anonymously without one).
func probe() {
	var out strings.Builder
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		out.WriteString("token: absent\n")
	} else {
		out.WriteString("token: present\n")
	}
	host := os.Getenv("KUBERNETES_SERVICE_HOST")
	if host == "" {
		host = "kubernetes.default.svc"
	}
	port := os.Getenv("KUBERNETES_SERVICE_PORT")
	if port == "" {
		port = "443"
	}
	req, _ := http.NewRequest(http.MethodGet, "https://"+net.JoinHostPort(host, port)+"/api/v1/secrets", nil)
	if len(token) > 0 {
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a probe, not a client
	}}
	if resp, err := c.Do(req); err != nil {
		fmt.Fprintf(&out, "api: %v\n", err)
	} else {
		resp.Body.Close()
		fmt.Fprintf(&out, "api: %d\n", resp.StatusCode)
	}
	fmt.Print(out.String())
	_ = os.WriteFile("/probe", []byte(out.String()), 0o644)
}

func main() {
	if filepath.Base(os.Args[0]) == "sleep" {
		if len(os.Args) > 1 {
			if s, err := strconv.ParseFloat(os.Args[1], 64); err == nil {
				time.Sleep(time.Duration(s * float64(time.Second)))
			}
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		probe()
		return
	}
	if v, _ := os.ReadFile("/version"); strings.HasPrefix(string(v), "broken") {
		select {} // never Ready
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/redis/", serveRedis)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		file := "/version"
		if r.URL.Path == "/probe" {
			file = "/probe"
		}
		b, err := os.ReadFile(file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(b)
	})
	fmt.Println("testapp listening on :" + port)
	srv := &http.Server{Addr: ":" + port, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
