// Command testapp is the application the end-to-end tests push to the fake
// GitHub: kaniko builds it into an image (FROM scratch) and the cluster runs
// it. It answers every request with the contents of /version, which each
// test commit changes, so a response tells which commit is serving.
//
// The same binary is also /bin/sleep in that image: the Deployment's
// preStop hook runs `sleep 10`.
package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	if filepath.Base(os.Args[0]) == "sleep" {
		if len(os.Args) > 1 {
			if s, err := strconv.ParseFloat(os.Args[1], 64); err == nil {
				time.Sleep(time.Duration(s * float64(time.Second)))
			}
		}
		return
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		b, err := os.ReadFile("/version")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(b)
	})
	fmt.Println("testapp listening on :" + port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
