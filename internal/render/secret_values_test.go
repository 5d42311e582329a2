package render

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Secret values keep a redacting type from Vault to the Secret object that
// carries them: the models, the VaultSecrets in them and the values derived
// from them print (every fmt verb) and marshal to JSON without a value; the
// Secret objects hold the real ones.
func TestSecretValuesRedactUntilTheSecret(t *testing.T) {
	const (
		token, regPass, appValue, hookSecret, dbPass = "tok-SECRET-1", "reg-SECRET-2", "app-SECRET-3", "hook-SECRET-4", "db-SECRET-5"
	)
	p := testProject()
	p.GitHubAccess.Version, p.GitHubAccess.Values = 1, SecretValues{"username": "bot", "token": token}
	p.Registry.Version, p.Registry.Values = 1, SecretValues{"username": "robot", "password": regPass}
	a := testApplication()
	a.AppSecret.Version, a.AppSecret.Values = 1, SecretValues{"API_KEY": appValue}
	a.WebhookSecret.Version, a.WebhookSecret.Values = 1, SecretValues{"secret": hookSecret}
	db := testDatabase("mysql")
	db.Password.Version, db.Password.Values = 1, SecretValues{DatabasePasswordKey: dbPass}

	gh, err1 := githubAccessData(p.GitHubAccess)
	reg, err2 := registryData(p.Registry, p.RegistryHost)
	hook, err3 := webhookData(a.WebhookSecret)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	for name, v := range map[string]any{
		"project": p, "application": a, "database": db, "github access VaultSecret": p.GitHubAccess,
		"github access data": gh, "registry data": reg, "webhook data": hook, "app values": a.AppSecret.Values,
	} {
		out := fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%d", v, v, v, v, v, v, v)
		js, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out += "|" + string(js)
		for _, s := range []string{token, regPass, appValue, hookSecret, dbPass} {
			if strings.Contains(out, s) || strings.Contains(out, fmt.Sprintf("%x", s)) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(s))) {
				t.Errorf("%s prints a secret value: %s", name, out)
			}
		}
		if !strings.Contains(out, "redacted values>") {
			t.Errorf("%s prints no redaction: %s", name, out)
		}
	}

	// The objects carry the real values.
	pObjs, err1 := ProjectObjects(p)
	aObjs, err2 := ApplicationObjects(a)
	dObjs, err3 := DatabaseObjects(db)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	for _, c := range []struct {
		objs      []*unstructured.Unstructured
		name, key string
		contains  string
	}{
		{pObjs, GitHubAccessSecret(p.Name), "token", token},
		{pObjs, RegistrySecret, corev1.DockerConfigJsonKey, base64.StdEncoding.EncodeToString([]byte("robot:" + regPass))},
		{aObjs, AppSecret(a.Project, a.Name), "API_KEY", appValue},
		{aObjs, WebhookSecret(a.Project, a.Name), "secret", hookSecret},
		{dObjs, DatabaseSecret(db.Project, db.Name), DatabasePasswordKey, dbPass},
	} {
		got := secretDataValue(t, c.objs, c.name, c.key)
		if !strings.Contains(got, c.contains) {
			t.Errorf("Secret %s key %s = %q, want it to hold %q", c.name, c.key, got, c.contains)
		}
	}
}

// secretDataValue decodes key of the Secret name in objs.
func secretDataValue(t *testing.T, objs []*unstructured.Unstructured, name, key string) string {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() != "Secret" || o.GetName() != name {
			continue
		}
		enc, _, _ := unstructured.NestedString(o.Object, "data", key)
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			t.Fatalf("Secret %s key %s: %v", name, key, err)
		}
		return string(b)
	}
	t.Fatalf("no Secret %s among %d objects", name, len(objs))
	return ""
}
