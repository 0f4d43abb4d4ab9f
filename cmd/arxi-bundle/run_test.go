package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/store/sqlite"
	"arxi.dev/arxi/pkg/store/storetest"
	"arxi.dev/arxi/pkg/zstdio"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"arxi-bundle": main})
}

// TestScripts runs testdata/*.txtar with the files of package fixture in
// the work directory.
func TestScripts(t *testing.T) {
	clitest.Scripts(t, testscript.Params{
		Setup: func(env *testscript.Env) error {
			if err := fixture.Write(env.WorkDir, filepath.Join(env.Getenv("TESTDATA"), "demo", "events.ndjson")); err != nil {
				return err
			}
			return makeStore(filepath.Join(env.WorkDir, "demo.db"), filepath.Join(env.WorkDir, "demo.ndjson"))
		},
	})
}

// makeStore appends the sealed stream in file stream to a new SQLite store
// at path, as arxi-append would.
func makeStore(path, stream string) error {
	in, err := os.Open(stream)
	if err != nil {
		return err
	}
	defer in.Close()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = storetest.Append(ctx, db, in)
	return err
}

func fixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := fixture.Write(dir, "../../testdata/demo/events.ndjson"); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runBundle(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestExitCodes checks run's exit status for each outcome (SPEC §12).
func TestExitCodes(t *testing.T) {
	dir := fixtures(t)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	demo := read("demo.ndjson")
	tampered := []byte(strings.Replace(string(demo), `"incidents.search"`, `"incidents.delete"`, 1))
	for _, tc := range []struct {
		name  string
		stdin []byte
		args  []string
		code  int
		out   bool
	}{
		{"whole stream", demo, []string{"--from-stream"}, 0, true},
		{"selected", demo, []string{"--from-stream", "--session-id", "sess-002", "--event-type", "tool.call"}, 0, true},
		{"all", demo, []string{"--from-stream", "--all"}, 0, true},
		{"usage: no source", demo, nil, 2, false},
		{"usage: two sources", demo, []string{"--from-stream", "--store", "x.db"}, 2, false},
		{"usage: store without selector", nil, []string{"--store", "x.db"}, 2, false},
		{"usage: bad segment id", demo, []string{"--from-stream", "--segment", "nope"}, 2, false},
		{"usage: bad time", demo, []string{"--from-stream", "--since", "2026-11-22T09:00:00+01:00"}, 2, false},
		{"usage: empty range", demo, []string{"--from-stream", "--since", "2026-11-22T10:00:00Z", "--until", "2026-11-22T09:00:00Z"}, 2, false},
		{"usage: argument", demo, []string{"--from-stream", "file"}, 2, false},
		{"usage: unknown segment", demo, []string{"--from-stream", "--segment", "019a0000-0000-7000-8000-000000000000"}, 2, false},
		{"rejected: nothing selected", demo, []string{"--from-stream", "--trace-id", "nope"}, 3, false},
		{"rejected: empty input", nil, []string{"--from-stream"}, 3, false},
		{"rejected: garbage", []byte("garbage\n"), []string{"--from-stream"}, 3, false},
		{"rejected: a bundle", read("demo.arxb"), []string{"--from-stream"}, 3, false},
		{"invalid: tampered stream", tampered, []string{"--from-stream"}, 1, false},
		{"io: output directory missing", demo, []string{"--from-stream", "-o", filepath.Join(dir, "no", "such", "dir", "b.arxb")}, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errb := runBundle(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit = %d, want %d; stderr: %s", code, tc.code, errb)
			}
			if got := out != ""; got != tc.out {
				t.Errorf("stdout written = %v, want %v", got, tc.out)
			}
			if tc.code != 0 && !strings.HasPrefix(errb, "arxi-bundle: error: ") {
				t.Errorf("stderr = %q, want an arxi-bundle: error: line", errb)
			}
		})
	}
}

// TestOutputFile: -o writes atomically; .zst compresses; the bytes are the
// same as on stdout, run after run; a failed run leaves no file behind.
func TestOutputFile(t *testing.T) {
	dir := fixtures(t)
	demo, _ := os.ReadFile(filepath.Join(dir, "demo.ndjson"))
	args := []string{"--from-stream", "--trace-id", "trace-7f3a"}
	_, want, _ := runBundle(t, demo, args...)
	plain, zst := filepath.Join(dir, "out.arxb"), filepath.Join(dir, "out.arxb.zst")
	for range 2 {
		if code, _, errb := runBundle(t, demo, append(args, "-o", plain)...); code != 0 {
			t.Fatal(errb)
		}
		if got, _ := os.ReadFile(plain); string(got) != want {
			t.Fatal("-o FILE differs from stdout")
		}
	}
	if code, _, errb := runBundle(t, demo, append(args, "-o", zst)...); code != 0 {
		t.Fatal(errb)
	}
	z, _ := os.ReadFile(zst)
	if !zstdio.IsZstd(z) {
		t.Fatal("-o FILE.zst is not zstd")
	}
	rc := zstdio.Auto(bytes.NewReader(z))
	var got bytes.Buffer
	got.ReadFrom(rc)
	if got.String() != want {
		t.Fatal("decompressed bundle differs from the plain one")
	}
	if _, out, _ := runBundle(t, demo, append(args, "--zstd")...); !zstdio.IsZstd([]byte(out)) {
		t.Fatal("--zstd on stdout is not zstd")
	}
	// A failed run leaves neither the file nor a temporary one.
	failed := filepath.Join(dir, "failed.arxb")
	if code, _, _ := runBundle(t, []byte("garbage\n"), "--from-stream", "-o", failed); code != 3 {
		t.Fatalf("exit = %d, want 3", code)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "failed") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestInspectExitCodes(t *testing.T) {
	dir := fixtures(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"bundle", []string{"inspect", f("demo.arxb")}, 0},
		{"zstd bundle as JSON", []string{"inspect", "--json", f("demo.arxb.zst")}, 0},
		{"no file", []string{"inspect"}, 2},
		{"a stream", []string{"inspect", f("demo.ndjson")}, 3},
		{"missing", []string{"inspect", f("nope.arxb")}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, errb := runBundle(t, nil, tc.args...); code != tc.code {
				t.Errorf("exit = %d, want %d; stderr: %s", code, tc.code, errb)
			}
		})
	}
}

// TestStore: a bundle exported from a store is byte for byte the bundle
// exported from the stream the store was filled from.
func TestStore(t *testing.T) {
	dir := fixtures(t)
	db := filepath.Join(dir, "demo.db")
	if err := makeStore(db, filepath.Join(dir, "demo.ndjson")); err != nil {
		t.Fatal(err)
	}
	demo, _ := os.ReadFile(filepath.Join(dir, "demo.ndjson"))
	for _, sel := range [][]string{{"--all"}, {"--trace-id", "trace-7f3a"}, {"--event-type", "tool.call", "--session-id", "sess-002"}} {
		code, fromStore, errb := runBundle(t, nil, append([]string{"--store", db}, sel...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", sel, code, errb)
		}
		_, fromStream, _ := runBundle(t, demo, append([]string{"--from-stream"}, sel...)...)
		if fromStore != fromStream {
			t.Errorf("%v: the store's bundle differs from the stream's", sel)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"missing store", []string{"--store", filepath.Join(dir, "none.db"), "--all"}, 4},
		{"not a store", []string{"--store", filepath.Join(dir, "demo.arxb"), "--all"}, 4},
		{"unknown segment", []string{"--store", db, "--segment", "019a0000-0000-7000-8000-000000000000"}, 2},
		{"nothing selected", []string{"--store", db, "--trace-id", "none"}, 3},
	} {
		if code, _, errb := runBundle(t, nil, tc.args...); code != tc.code {
			t.Errorf("%s: exit %d, want %d: %s", tc.name, code, tc.code, errb)
		}
	}
}
