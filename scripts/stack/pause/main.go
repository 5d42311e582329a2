// Command pause is the process of the local stack's sandbox image
// (registry.k8s.io/pause:3.10, built by scripts/stack/images): it sleeps
// until SIGTERM or SIGINT and then exits 0. Like upstream's pause it reaps
// zombie children, which matters when it is PID 1 of a pod that shares its
// process namespace.
//
// Build static: CGO_ENABLED=0 go build -trimpath ./scripts/stack/pause
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Println("pause (terraform-provider-idp local stack)")
		return
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		os.Exit(0)
	}
}

// reap collects every exited child without blocking.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
