package engine

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-log/tflog"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
)

// Exec runs command in a container of a pod, with stdin, and returns its
// stdout. Secrets belong on stdin: the command is part of the request URL,
// which the API server may log. Every value in redact is replaced in what
// an error carries (the program's stderr), in case the program echoed it.
func (e *Engine) Exec(ctx context.Context, namespace, pod, container string, command []string, stdin string, redact ...string) (string, error) {
	kc, err := e.kubeClients()
	if err != nil {
		return "", err
	}
	cs, err := kubernetes.NewForConfig(kc.config)
	if err != nil {
		return "", err
	}
	req := cs.CoreV1().RESTClient().Post().Namespace(namespace).Resource("pods").Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container, Command: command, Stdin: true, Stdout: true, Stderr: true,
		}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(kc.config, "POST", req.URL())
	if err != nil {
		return "", err
	}
	tflog.Debug(ctx, "exec", map[string]any{"pod": namespace + "/" + pod, "container": container, "program": command[0]})
	var stdout, stderr bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		for _, r := range redact {
			if r != "" {
				msg = strings.ReplaceAll(msg, r, "(redacted)")
			}
		}
		if msg != "" {
			return "", fmt.Errorf("in %s/%s (container %s): %w: %s", namespace, pod, container, err, msg)
		}
		return "", fmt.Errorf("in %s/%s (container %s): %w", namespace, pod, container, apiError(err))
	}
	return stdout.String(), nil
}
