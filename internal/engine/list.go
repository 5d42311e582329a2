package engine

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ListAllNamespaces returns the objects of a namespaced kind in every
// namespace, in one request: finding what runs in a cluster (the list
// resources, idp_estate) must not cost a request per namespace. A kind the
// cluster does not serve has no objects.
func (e *Engine) ListAllNamespaces(ctx context.Context, apiVersion, kind string) ([]unstructured.Unstructured, error) {
	kc, err := e.kubeClients()
	if err != nil {
		return nil, err
	}
	ref := Ref{APIVersion: apiVersion, Kind: kind}
	m, err := kc.kinds.mappingNow(ref.GVK())
	if isMissingKind(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	list, err := kc.dynamic.Resource(m.Resource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing %s in all namespaces: %w", kind, apiError(err))
	}
	return list.Items, nil
}
