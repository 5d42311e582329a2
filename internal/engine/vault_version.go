package engine

import (
	"context"
	"errors"
	"fmt"

	vaultapi "github.com/hashicorp/vault/api"
)

// ReadVersion returns one version of path, or nil if that version does not
// exist or was deleted or destroyed. Version 0 is the latest, as in Read.
func (k *KV) ReadVersion(ctx context.Context, path string, version int) (*Secret, error) {
	if version == 0 {
		return k.Read(ctx, path)
	}
	s, err := k.client.KVv2(k.mount).GetVersion(ctx, path, version)
	if errors.Is(err, vaultapi.ErrSecretNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading version %d of Vault secret %s/%s: %w", version, k.mount, path, err)
	}
	if s.Data == nil || s.VersionMetadata == nil {
		return nil, nil
	}
	values := make(Values, len(s.Data))
	for key, v := range s.Data {
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("Vault secret %s/%s: key %q is not a string", k.mount, path, key)
		}
		values[key] = str
	}
	return &Secret{Values: values, Version: s.VersionMetadata.Version}, nil
}
