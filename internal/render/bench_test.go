package render

import "testing"

// Rendering one bench project (make bench): the project, a pinned and an
// unpinned application, a mysql and a redis database, with Vault values,
// as every plan and refresh renders it. go test -bench Render ./internal/render
func BenchmarkRenderProject(b *testing.B) {
	p := testProject()
	p.GitHubAccess.Version, p.GitHubAccess.Values = 1, map[string]string{"username": "ci", "token": "t"}
	p.Registry.Version, p.Registry.Values = 1, map[string]string{"username": "ci", "password": "p"}
	pinned := testApplication()
	pinned.Hash = "0123456789abcdef0123456789abcdef01234567"
	pinned.Pinned = true
	ci := testApplication()
	ci.Name = "web"
	for _, a := range []*Application{&pinned, &ci} {
		a.WebhookSecret.Version, a.WebhookSecret.Values = 1, map[string]string{"secret": "whsec"}
		a.AppSecret.Version, a.AppSecret.Values = 1, map[string]string{"K": "v"}
	}
	dbs := []Database{testDatabase("mysql"), testDatabase("redis")}
	dbs[1].Name = "cache"
	for i := range dbs {
		dbs[i].Password.Version, dbs[i].Password.Values = 1, map[string]string{DatabasePasswordKey: "pw"}
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		objs, err := ProjectObjects(p)
		if err != nil {
			b.Fatal(err)
		}
		n += len(objs)
		for _, a := range []Application{pinned, ci} {
			objs, err := ApplicationObjects(a)
			if err != nil {
				b.Fatal(err)
			}
			for _, o := range objs {
				_ = Fingerprint(o)
			}
			n += len(objs)
		}
		for _, d := range dbs {
			objs, err := DatabaseObjects(d)
			if err != nil {
				b.Fatal(err)
			}
			n += len(objs)
		}
		if n < 20 {
			b.Fatalf("rendered %d objects", n)
		}
	}
}
