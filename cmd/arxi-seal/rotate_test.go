package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/sqlite"
	"arxi.dev/arxi/pkg/store/storetest"
)

// writeKey writes k as a plain PEM file of mode 0600 in dir.
func writeKey(t *testing.T, dir, name string, k *signing.Key) string {
	t.Helper()
	pem, err := k.MarshalPEM(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// lineage returns the store's current key.
func lineage(t *testing.T, path string) store.Lineage {
	t.Helper()
	db, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := store.Open(t.Context(), db, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Lineage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLifecycleExit checks the exit statuses of enroll and rotate, and of
// arxi-seal --store with a key the store refuses (SPEC §11.1: exit 2).
func TestLifecycleExit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "arxi.db")
	a, b := writeKey(t, dir, "a.pem", storetest.Key(1)), writeKey(t, dir, "b.pem", storetest.Key(2))
	c := writeKey(t, dir, "c.pem", storetest.Key(3))
	plain := "--insecure-plain-key"
	code, out, stderr := runSeal(t, "", "enroll", "--store", path, "--sign-key", a, plain, "--recorder-id", "r", "--claimed-at", "2026-11-22T10:00:00Z")
	if code != 0 {
		t.Fatalf("enroll: exit %d, %s", code, stderr)
	}
	appendTo(t, path, []byte(out))
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"enroll again", []string{"enroll", "--store", path, "--sign-key", a, plain}, 0, ""},
		{"enroll another key", []string{"enroll", "--store", path, "--sign-key", b, plain, "--recorder-id", "r"}, 2, "usage.invalid"},
		{"seal with another key", []string{"--recorder-id", "r", "--store", path, "--open", "--sign-key", b, plain}, 2, "key.not_current"},
		{"seal unsigned", []string{"--recorder-id", "r", "--store", path, "--open"}, 2, "key.not_current"},
		{"rotate from another key", []string{"rotate", "--store", path, "--sign-key", b, "--new-key", c, plain}, 2, "key.not_current"},
		{"rotate without a new key", []string{"rotate", "--store", path, "--sign-key", a, plain}, 2, "usage.invalid"},
		{"bad reason", []string{"rotate", "--store", path, "--sign-key", a, "--new-key", b, plain, "--reason", " "}, 2, "usage.invalid"},
	} {
		code, out, stderr := runSeal(t, storetest.Events(0, 1), tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.err) || (code != 0 && out != "") {
			t.Errorf("%s: exit %d, stdout %q, stderr %s; want exit %d, %s", tc.name, code, out, stderr, tc.code, tc.err)
		}
	}
}

// TestRotateFinish: a crash after the lifecycle envelope was appended but
// before its seal (the batch boundary between them) leaves a store that
// opens; running rotate again writes only the seal, and the rotation is
// finished.
func TestRotateFinish(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "arxi.db")
	a, b := writeKey(t, dir, "a.pem", storetest.Key(1)), writeKey(t, dir, "b.pem", storetest.Key(2))
	plain := "--insecure-plain-key"
	_, out, _ := runSeal(t, "", "enroll", "--store", path, "--sign-key", a, plain, "--recorder-id", "r", "--claimed-at", "2026-11-22T10:00:00Z")
	appendTo(t, path, []byte(out))
	args := []string{"rotate", "--store", path, "--sign-key", a, "--new-key", b, plain, "--recorder-id", "r", "--claimed-at", "2026-11-22T11:00:00Z"}
	code, rot, stderr := runSeal(t, "", args...)
	if code != 0 {
		t.Fatalf("rotate: exit %d, %s", code, stderr)
	}
	lines := storetest.Lines([]byte(rot))
	if len(lines) != 3 {
		t.Fatalf("rotate wrote %d lines, want genesis, envelope, seal", len(lines))
	}
	appendTo(t, path, []byte(lines[0]+lines[1])) // the seal never arrives
	if l := lineage(t, path); l.Epoch != 2 || l.Key.KeyID != storetest.Key(2).KeyID() {
		t.Fatalf("after the envelope: lineage %+v", l)
	}
	code, again, stderr := runSeal(t, "", args...)
	if code != 0 || again != lines[0]+lines[2] {
		t.Fatalf("rotate again: exit %d, %s; wrote\n%s\nwant the genesis and the seal\n%s", code, stderr, again, lines[0]+lines[2])
	}
	all := appendTo(t, path, []byte(again))
	if !strings.HasSuffix(string(all), lines[2]) {
		t.Errorf("the store does not end with the rotation's seal")
	}
	code, third, _ := runSeal(t, "", args...)
	if code != 0 || third != "" {
		t.Errorf("rotate a third time: exit %d, wrote %q", code, third)
	}
}
