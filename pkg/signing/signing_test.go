package signing

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// testIterations keeps PBKDF2 cheap in tests that do not test the default.
const testIterations = 1000

func TestSignVerify(t *testing.T) {
	k, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := scalar.Sum([]byte("content"))
	sig := k.Sign(d)
	if sig.KeyID != scalar.KeyIDOf(k.PublicKey()) {
		t.Errorf("key id is not SHA-256 of the public key")
	}
	if !Verify(k.PublicKey(), d, sig.Value) {
		t.Fatal("signature does not verify")
	}
	other, _ := Generate(nil)
	if Verify(other.PublicKey(), d, sig.Value) {
		t.Error("signature verifies under the wrong key")
	}
	if Verify(k.PublicKey(), scalar.Sum([]byte("other")), sig.Value) {
		t.Error("signature verifies over the wrong hash")
	}
	bad := sig.Value
	bad[5] ^= 1
	if Verify(k.PublicKey(), d, bad) {
		t.Error("flipped signature verifies")
	}
	// Non-canonical S (S + L) must be rejected by strict verification.
	l := []byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
	mall := sig.Value
	var carry uint16
	for i := range 32 {
		s := uint16(mall[32+i]) + uint16(l[i]) + carry
		mall[32+i], carry = byte(s), s>>8
	}
	if Verify(k.PublicKey(), d, mall) {
		t.Error("malleated signature (S+L) verifies")
	}
	if Verify(k.PublicKey()[:31], d, sig.Value) {
		t.Error("short public key accepted")
	}
}

func TestPEMRoundTrip(t *testing.T) {
	k, _ := Generate(nil)
	enc, err := k.MarshalPEM([]byte("pass"), testIterations)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(enc, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
		t.Fatalf("encrypted PEM = %s", enc)
	}
	back, err := ParsePEM(enc, []byte("pass"), false)
	if err != nil || back.KeyID() != k.KeyID() {
		t.Fatalf("ParsePEM(encrypted) = %v, %v", back, err)
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		pass  string
		plain bool
		code  errcode.Code
	}{
		{"wrong passphrase", enc, "wrong", false, errcode.KeyPassphrase},
		{"no passphrase", enc, "", false, errcode.KeyPassphrase},
		{"garbage", []byte("not a key"), "pass", false, errcode.KeyMalformed},
		{"trailing data", append(append([]byte{}, enc...), "junk"...), "pass", false, errcode.KeyMalformed},
		{"wrong block", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "", true, errcode.KeyMalformed},
		{"truncated der", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"), "pass", false, errcode.KeyMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pass []byte
			if tc.pass != "" {
				pass = []byte(tc.pass)
			}
			if _, err := ParsePEM(tc.data, pass, tc.plain); !errors.Is(err, tc.code) {
				t.Errorf("error = %v, want %s", err, tc.code)
			}
		})
	}
	plain, err := k.MarshalPEM(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePEM(plain, nil, false); !errors.Is(err, errcode.KeyPlainRefused) {
		t.Errorf("plain key without opt-down: %v", err)
	}
	if back, err := ParsePEM(plain, nil, true); err != nil || back.KeyID() != k.KeyID() {
		t.Errorf("plain key with opt-down: %v", err)
	}
}

func TestDefaultIterations(t *testing.T) {
	if testing.Short() {
		t.Skip("PBKDF2 at the default cost")
	}
	k, _ := Generate(nil)
	enc, err := k.MarshalPEM([]byte("pass"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePEM(enc, []byte("pass"), false); err != nil {
		t.Fatal(err)
	}
}

// privateCopy copies the key files of testdata to a directory, with mode
// 0600 (a checkout makes them 0644, which LoadKey refuses), and returns it.
func privateCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	pems, _ := filepath.Glob("testdata/*.pem")
	for _, p := range pems {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOpenSSLKeys(t *testing.T) {
	pub, err := os.ReadFile("testdata/openssl-ed25519.pub.b64")
	if err != nil {
		t.Fatal(err)
	}
	wantPub, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(pub)))
	t.Chdir(privateCopy(t))
	os.Mkdir("testdata", 0o700)
	pems, _ := filepath.Glob("*.pem")
	for _, p := range pems {
		os.Rename(p, filepath.Join("testdata", p))
	}
	k, err := LoadKey("testdata/openssl-ed25519-aes256.pem", []byte("openssl-passphrase"), false)
	if err != nil {
		t.Fatalf("openssl genpkey -aes-256-cbc key: %v", err)
	}
	if !bytes.Equal(k.PublicKey(), wantPub) {
		t.Errorf("public key = %x, want %x", []byte(k.PublicKey()), wantPub)
	}
	if _, err := LoadKey("testdata/openssl-ed25519-scrypt.pem", []byte("scrypt-pass"), false); err != nil {
		t.Errorf("openssl pkcs8 -scrypt key: %v", err)
	}
	if _, err := LoadKey("testdata/openssl-ed25519-plain.pem", nil, false); !errors.Is(err, errcode.KeyPlainRefused) {
		t.Errorf("plain openssl key: %v", err)
	}
	if _, err := LoadKey("testdata/openssl-ed25519-plain.pem", nil, true); err != nil {
		t.Errorf("plain openssl key with opt-down: %v", err)
	}
	_, err = LoadKey("testdata/openssl-rsa.pem", nil, true)
	if !errors.Is(err, errcode.KeyMalformed) {
		t.Errorf("RSA key: %v", err)
	}
	if e, _ := errcode.As(err); e == nil || e.Path != "testdata/openssl-rsa.pem" {
		t.Errorf("error does not name the file: %v", err)
	}
	if _, err := LoadKey("testdata/missing.pem", nil, true); !errors.Is(err, errcode.KeyMalformed) {
		t.Errorf("missing file: %v", err)
	}
}

// TestKeyFileMode checks SPEC §11: a key or passphrase file its group or
// others may read is refused, whatever else is allowed, unless the caller
// sets AllowReadable (the sidecar's dev profile).
func TestKeyFileMode(t *testing.T) {
	dir := t.TempDir()
	k, _ := Generate(nil)
	plain, _ := k.MarshalPEM(nil, 0)
	key := filepath.Join(dir, "key.pem")
	pass := filepath.Join(dir, "pass")
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		os.WriteFile(key, plain, 0o600)
		os.Chmod(key, mode)
		os.WriteFile(pass, []byte("secret"), 0o600)
		os.Chmod(pass, mode)
		if _, err := LoadKey(key, nil, true); !errors.Is(err, errcode.KeyInsecureFile) {
			t.Errorf("key mode %04o: %v, want key.insecure_file", mode, err)
		}
		if _, err := ReadPassphrase(pass); !errors.Is(err, errcode.KeyInsecureFile) {
			t.Errorf("passphrase mode %04o: %v, want key.insecure_file", mode, err)
		}
		if got, err := (KeyFile{Path: key, AllowPlain: true, AllowReadable: true}).Load(); err != nil || got.KeyID() != k.KeyID() {
			t.Errorf("AllowReadable, mode %04o: %v", mode, err)
		}
	}
	os.Chmod(key, 0o400)
	if _, err := LoadKey(key, nil, true); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}

func TestKeyFileLimits(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.pem")
	os.WriteFile(big, bytes.Repeat([]byte("A"), MaxKeyFile+1), 0o600)
	if _, err := LoadKey(big, nil, true); !errors.Is(err, errcode.KeyMalformed) {
		t.Errorf("oversized key file: %v", err)
	}
	pass := filepath.Join(dir, "pass")
	os.WriteFile(pass, []byte("secret\r\n"), 0o600)
	if p, err := ReadPassphrase(pass); err != nil || string(p) != "secret" {
		t.Errorf("ReadPassphrase = %q, %v", p, err)
	}
	os.WriteFile(pass, bytes.Repeat([]byte("p"), MaxPassphrase+1), 0o600)
	if _, err := ReadPassphrase(pass); !errors.Is(err, errcode.KeyPassphrase) {
		t.Errorf("oversized passphrase: %v", err)
	}
	os.WriteFile(pass, []byte("\n"), 0o600)
	if _, err := ReadPassphrase(pass); !errors.Is(err, errcode.KeyPassphrase) {
		t.Errorf("empty passphrase: %v", err)
	}
}

// TestExpensiveKDFRefused checks that a key asking for absurd PBKDF2 work is
// refused before any work is done.
func TestExpensiveKDFRefused(t *testing.T) {
	k, _ := Generate(nil)
	enc, _ := k.MarshalPEM([]byte("p"), 1<<16)
	// Patch the iteration count 65536 (INTEGER 01 00 00) to 8388607 in place.
	block, _ := pem.Decode(enc)
	i := bytes.Index(block.Bytes, []byte{0x02, 0x03, 0x01, 0x00, 0x00})
	if i < 0 {
		t.Fatal("iteration count not found")
	}
	copy(block.Bytes[i+2:], []byte{0x7f, 0xff, 0xff})
	if _, err := ParsePEM(pem.EncodeToMemory(block), []byte("p"), false); !errors.Is(err, errcode.KeyMalformed) {
		t.Errorf("huge iteration count: %v", err)
	}
}

func trustRootJSON(policy string, keys ...TrustedKey) string {
	var entries []string
	for _, k := range keys {
		entries = append(entries, string(k.AppendJCS(nil)))
	}
	return fmt.Sprintf(`{"keys":[%s],"policy":%s,"trust_root_version":1}`, strings.Join(entries, ","), policy)
}

func TestTrustRootPolicies(t *testing.T) {
	var keys []*Key
	for range 3 {
		k, _ := Generate(nil)
		keys = append(keys, k)
	}
	stranger, _ := Generate(nil)
	d := scalar.Sum([]byte("envelope"))
	sigs := func(ks ...*Key) []evidence.Signature {
		var out []evidence.Signature
		for _, k := range ks {
			out = append(out, k.Sign(d))
		}
		return out
	}
	tks := []TrustedKey{keys[0].TrustedKey(), keys[1].TrustedKey(), keys[2].TrustedKey()}
	forged := keys[1].Sign(scalar.Sum([]byte("other")))
	for _, tc := range []struct {
		name   string
		policy string
		sigs   []evidence.Signature
		ok     bool
	}{
		{"any: one trusted", `{"kind":"any_trusted_key"}`, sigs(keys[2]), true},
		{"any: unsigned", `{"kind":"any_trusted_key"}`, nil, false},
		{"any: only a stranger", `{"kind":"any_trusted_key"}`, sigs(stranger), false},
		{"any: trusted plus invalid trusted", `{"kind":"any_trusted_key"}`, append(sigs(keys[0]), forged), false},
		{"all: every key", `{"kind":"all_must_sign"}`, sigs(keys...), true},
		{"all: one missing", `{"kind":"all_must_sign"}`, sigs(keys[0], keys[1]), false},
		{"threshold 2 of 3", `{"kind":"threshold","threshold":2}`, sigs(keys[0], keys[2]), true},
		{"threshold 2 with stranger", `{"kind":"threshold","threshold":2}`, sigs(keys[0], stranger), false},
		{"threshold 2: unsigned", `{"kind":"threshold","threshold":2}`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ParseTrustRoot([]byte(trustRootJSON(tc.policy, tks...)))
			if err != nil {
				t.Fatal(err)
			}
			o := tr.Check(d, tc.sigs)
			if o.Satisfied != tc.ok {
				t.Errorf("Check = %+v, want satisfied=%v", o, tc.ok)
			}
		})
	}
	tr, _ := ParseTrustRoot([]byte(trustRootJSON(`{"kind":"any_trusted_key"}`, tks...)))
	o := tr.Check(d, append(sigs(keys[0], stranger), forged))
	if len(o.Valid) != 1 || len(o.Untrusted) != 1 || len(o.Invalid) != 1 || o.Untrusted[0] != stranger.KeyID() {
		t.Errorf("outcome = %+v", o)
	}
}

// trustRootReject is a trust root ParseTrustRoot rejects, with the field
// its error names; schema_test.go checks that the schema rejects it too.
type trustRootReject struct{ name, in, field string }

// trustRootRejects returns a valid trust root and rejected variants of it.
func trustRootRejects() (string, []trustRootReject) {
	k, _ := Generate(nil)
	tk := k.TrustedKey()
	good := trustRootJSON(`{"kind":"any_trusted_key"}`, tk)
	other, _ := Generate(nil)
	mismatched := TrustedKey{KeyID: other.KeyID(), PublicKey: k.PublicKey()}
	return good, []trustRootReject{
		{"not json", `{`, ""},
		{"version 2", strings.Replace(good, `"trust_root_version":1`, `"trust_root_version":2`, 1), "trust_root_version"},
		{"unknown key", strings.Replace(good, `"trust_root_version":1`, `"trust_root_version":1,"x":1`, 1), "x"},
		{"no keys", trustRootJSON(`{"kind":"any_trusted_key"}`), "keys"},
		{"key id mismatch", trustRootJSON(`{"kind":"any_trusted_key"}`, mismatched), "keys[0].key_id"},
		{"duplicate key", trustRootJSON(`{"kind":"any_trusted_key"}`, tk, tk), "keys"},
		{"threshold zero", trustRootJSON(`{"kind":"threshold","threshold":0}`, tk), "policy.threshold"},
		{"threshold above keys", trustRootJSON(`{"kind":"threshold","threshold":2}`, tk), "policy.threshold"},
		{"threshold fraction", trustRootJSON(`{"kind":"threshold","threshold":1.5}`, tk), "policy.threshold"},
		{"unknown policy", trustRootJSON(`{"kind":"most"}`, tk), "policy.kind"},
		{"extra policy key", trustRootJSON(`{"kind":"all_must_sign","threshold":1}`, tk), "policy.threshold"},
		{"no policy kind", trustRootJSON(`{"follow_rotations":true}`, tk), "policy.kind"},
		{"follow_rotations not bool", trustRootJSON(`{"follow_rotations":1,"kind":"any_trusted_key"}`, tk), "policy.follow_rotations"},
		{"bad algorithm", strings.Replace(good, `"ed25519"`, `"ed448"`, 1), "keys[0].algorithm"},
		{"short public key", strings.Replace(good, base64.StdEncoding.EncodeToString(k.PublicKey()), "AAAA", 1), "keys[0].public_key"},
	}
}

func TestParseTrustRootRejects(t *testing.T) {
	good, cases := trustRootRejects()
	if _, err := ParseTrustRoot([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTrustRoot([]byte(tc.in))
			e, ok := errcode.As(err)
			if !ok || e.Code != errcode.ConfigInvalid || (tc.field != "" && e.Field != tc.field) {
				t.Errorf("error = %v, want %s on field %q", err, errcode.ConfigInvalid, tc.field)
			}
		})
	}
}

func FuzzParseTrustRoot(f *testing.F) {
	k, _ := Generate(nil)
	f.Add([]byte(trustRootJSON(`{"kind":"threshold","threshold":1}`, k.TrustedKey())))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTrustRoot(data)
		if err != nil {
			if _, ok := errcode.As(err); !ok {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		for _, key := range tr.Keys {
			if scalar.KeyIDOf(key.PublicKey) != key.KeyID {
				t.Fatalf("accepted a mismatched key id")
			}
		}
		if tr.Policy.Kind == Threshold && (tr.Policy.Threshold < 1 || tr.Policy.Threshold > len(tr.Keys)) {
			t.Fatalf("accepted threshold %d with %d keys", tr.Policy.Threshold, len(tr.Keys))
		}
		// What is accepted is written back as one canonical form that
		// parses to the same root.
		enc := tr.AppendJCS(nil)
		back, err := ParseTrustRoot(enc)
		if err != nil {
			t.Fatalf("re-parse %s: %v", enc, err)
		}
		if again := back.AppendJCS(nil); !bytes.Equal(again, enc) {
			t.Fatalf("AppendJCS not stable:\n%s\n%s", enc, again)
		}
	})
}

// TestTrustRootWrite checks that NewTrustRoot applies ParseTrustRoot's
// rules and that AppendJCS writes canonical JSON that parses back to the
// same root, for every policy.
func TestTrustRootWrite(t *testing.T) {
	a, _ := Generate(nil)
	b, _ := Generate(nil)
	keys := []TrustedKey{b.TrustedKey(), a.TrustedKey()}
	for _, p := range []Policy{{Kind: AnyTrustedKey}, {Kind: AllMustSign, FollowRotations: true}, {Kind: Threshold, Threshold: 2}} {
		tr, err := NewTrustRoot(keys, p)
		if err != nil {
			t.Fatalf("NewTrustRoot(%v): %v", p, err)
		}
		enc := tr.AppendJCS(nil)
		if canon, err := canonical.Transform(enc); err != nil || !bytes.Equal(canon, enc) {
			t.Errorf("%s is not canonical JSON: %v", enc, err)
		}
		back, err := ParseTrustRoot(enc)
		if err != nil {
			t.Fatalf("ParseTrustRoot(%s): %v", enc, err)
		}
		if back.Policy != p || len(back.Keys) != 2 || back.Keys[0].KeyID != tr.Keys[0].KeyID || back.Keys[1].KeyID != tr.Keys[1].KeyID {
			t.Errorf("round trip: %+v, want %+v", back, tr)
		}
	}
	mismatched := TrustedKey{KeyID: a.KeyID(), PublicKey: b.PublicKey()}
	for _, tc := range []struct {
		name   string
		keys   []TrustedKey
		policy Policy
	}{
		{"no keys", nil, Policy{Kind: AnyTrustedKey}},
		{"twice", []TrustedKey{a.TrustedKey(), a.TrustedKey()}, Policy{Kind: AnyTrustedKey}},
		{"mismatched id", []TrustedKey{mismatched}, Policy{Kind: AnyTrustedKey}},
		{"threshold above keys", keys, Policy{Kind: Threshold, Threshold: 3}},
		{"threshold zero", keys, Policy{Kind: Threshold}},
		{"threshold on any", keys, Policy{Kind: AnyTrustedKey, Threshold: 1}},
		{"unknown kind", keys, Policy{Kind: "most"}},
	} {
		if _, err := NewTrustRoot(tc.keys, tc.policy); !errors.Is(err, errcode.ConfigInvalid) {
			t.Errorf("%s: %v, want config.invalid", tc.name, err)
		}
	}
}

func TestParseKeyEntry(t *testing.T) {
	k, _ := Generate(nil)
	line := k.TrustedKey().AppendJCS(nil)
	got, err := ParseKeyEntry(append([]byte(" "), append(line, '\n')...))
	if err != nil || got.KeyID != k.KeyID() {
		t.Fatalf("ParseKeyEntry(%s) = %v, %v", line, got, err)
	}
	for _, bad := range []string{`{}`, `[]`, `{"algorithm":"ed25519"}`, string(line[:len(line)-1])} {
		if _, err := ParseKeyEntry([]byte(bad)); !errors.Is(err, errcode.ConfigInvalid) {
			t.Errorf("ParseKeyEntry(%s) = %v, want config.invalid", bad, err)
		}
	}
}

func FuzzParsePEM(f *testing.F) {
	for _, name := range []string{"openssl-ed25519-aes256.pem", "openssl-ed25519-plain.pem", "openssl-rsa.pem"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParsePEM(data, []byte("openssl-passphrase"), true)
		if err != nil {
			if _, ok := errcode.As(err); !ok {
				t.Fatalf("untyped error: %v", err)
			}
		}
	})
}

// TestLoadPublicKey: the public key of a key entry, a PEM public key and a
// private key file (plain or encrypted, owner-only) is the same entry.
func TestLoadPublicKey(t *testing.T) {
	dir := t.TempDir()
	k, _ := Generate(nil)
	want := k.TrustedKey()
	spki, _ := x509.MarshalPKIXPublicKey(k.PublicKey())
	enc, _ := k.MarshalPEM([]byte("pass"), testIterations)
	plain, _ := k.MarshalPEM(nil, 0)
	file := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o600)
		os.Chmod(p, mode)
		return p
	}
	pass := func() ([]byte, error) { return []byte("pass"), nil }
	none := func() ([]byte, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		path string
		pass func() ([]byte, error)
		code errcode.Code
	}{
		{"entry", file("key.json", append(want.AppendJCS(nil), '\n'), 0o644), none, ""},
		{"public PEM", file("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o644), none, ""},
		{"plain private", file("plain.pem", plain, 0o600), none, ""},
		{"encrypted private", file("enc.pem", enc, 0o600), pass, ""},
		{"encrypted, no passphrase", file("enc2.pem", enc, 0o600), none, errcode.KeyPassphrase},
		{"readable private", file("open.pem", plain, 0o644), none, errcode.KeyInsecureFile},
		{"not a key", file("junk.pem", []byte("-----BEGIN JUNK-----\nAAAA\n-----END JUNK-----\n"), 0o600), none, errcode.KeyMalformed},
		{"not an entry", file("junk.json", []byte(`{"a":1}`), 0o644), none, errcode.ConfigInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadPublicKey(tc.path, tc.pass)
			if tc.code != "" {
				if e, ok := errcode.As(err); !ok || e.Code != tc.code || e.Path != tc.path {
					t.Fatalf("LoadPublicKey = %v, want %s naming the file", err, tc.code)
				}
				return
			}
			if err != nil || got.KeyID != want.KeyID || !bytes.Equal(got.PublicKey, want.PublicKey) {
				t.Fatalf("LoadPublicKey = %v, %v; want %v", got, err, want)
			}
		})
	}
}
