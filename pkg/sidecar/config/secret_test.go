package config

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/signing"
)

// TestSecretFiles: the sidecar refuses a token, key or passphrase file
// that group or others may read, or that another user owns, with
// config.invalid naming the key and the file; the dev profile lifts both
// rules for the key and its passphrase, never for the token.
func TestSecretFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	d := dir(t)
	k, err := signing.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := k.MarshalPEM([]byte("pass phrase"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := k.MarshalPEM(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte, mode os.FileMode, uid int) {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	const nobody = 65534
	write("key.pem", pem, 0o600, 0)
	write("key.pass", []byte("pass phrase\n"), 0o600, 0)
	write("key.group", pem, 0o640, 0)
	write("key.other", pem, 0o600, nobody)
	write("pass.other", []byte("pass phrase\n"), 0o600, nobody)
	write("pass.world", []byte("pass phrase\n"), 0o604, 0)
	write("plain.other", plain, 0o644, nobody)
	write("token.other", []byte(token), 0o600, nobody)
	signed := func(key, pass, profile string) string {
		s := strings.Replace(base, "[recorder]\n", "[recorder]\nsign_key = \""+key+"\"\nprofile = \""+profile+"\"\n", 1)
		if pass != "" {
			s = strings.Replace(s, "[recorder]\n", "[recorder]\nsign_passphrase_file = \""+pass+"\"\n", 1)
		}
		return s
	}
	for _, tc := range []struct {
		name, toml, field, file string
	}{
		{"key and passphrase", signed("key.pem", "key.pass", "secure"), "", ""},
		{"key readable by group", signed("key.group", "key.pass", "secure"), "recorder.sign_key", "key.group"},
		{"key of another user", signed("key.other", "key.pass", "secure"), "recorder.sign_key", "key.other"},
		{"passphrase of another user", signed("key.pem", "pass.other", "secure"), "recorder.sign_passphrase_file", "pass.other"},
		{"passphrase readable by others", signed("key.pem", "pass.world", "secure"), "recorder.sign_passphrase_file", "pass.world"},
		{"token of another user", strings.Replace(base, `mode = "open"`, `mode = "token"`+"\ntoken_file = \"token.other\"", 1), "auth.token_file", "token.other"},
		{"dev: a plain key anyone may read, of another user", signed("plain.other", "", "dev"), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.toml), d)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Parse = %v", err)
				}
				return
			}
			var e *errcode.Error
			if !errors.As(err, &e) || e.Code != errcode.ConfigInvalid || e.Field != tc.field || !strings.Contains(e.Msg, filepath.Join(d, tc.file)) {
				t.Fatalf("Parse = %v, want config.invalid on %s naming %s", err, tc.field, tc.file)
			}
		})
	}
}
