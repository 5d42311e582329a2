package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// Import of a database: the model rebuilt from its live StatefulSet.

func (r *databaseResource) importModel(ctx context.Context, p, d string) (*databaseModel, error) {
	eng := r.data.Engine
	name := render.DatabaseStatefulSet(p, d)
	sts, err := eng.Get(ctx, toRef(render.DatabaseStatefulSetID(p, d)))
	if err != nil {
		return nil, err
	}
	if sts == nil {
		return nil, fmt.Errorf("there is no StatefulSet %s in namespace %s", name, render.Namespace(p))
	}
	typ, version, port, err := render.ParseDatabase(sts, d)
	if err != nil {
		return nil, fmt.Errorf("%w; only databases of those types can be imported", err)
	}
	if err := render.ImmutableMismatch(sts, name, render.DatabaseService(d)); err != nil {
		return nil, err
	}
	size, err := render.ParseClaimTemplateSize(sts, render.DatabaseVolume(p, d))
	if err != nil {
		return nil, fmt.Errorf("StatefulSet %s: %w", name, err)
	}
	class, _ := render.ClaimTemplateStorageClass(sts, render.DatabaseVolume(p, d))
	// A claim expanded since (by us or by hand) is what the database has.
	claims, err := r.claims(ctx, render.Database{Project: p, Name: d})
	if err != nil {
		return nil, err
	}
	for i := range claims {
		if q, ok := render.ParseClaimSize(&claims[i]); ok && q.Cmp(size) > 0 {
			size = q
		}
	}
	m := &databaseModel{
		Project: types.StringValue(p), Name: types.StringValue(d), Type: types.StringValue(typ),
		Version: types.StringValue(version), Size: types.StringValue(size.String()), Port: types.Int64Value(port),
		StorageClass: types.StringPointerValue(class),
		DeleteData:   types.BoolValue(false), PasswordVersion: types.Int64Null(),
		Objects: types.MapNull(types.StringType), Timeouts: nullTimeouts(),
	}
	m.outputs()
	return m, nil
}
