//go:build cgo

package verify_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/pkg/verify"
)

// TestPureGo checks the CGO_ENABLED=0 build, which uses the pure-Go zstd
// codec: the verify and zstd tests pass under it, arxi-verify builds, and
// bundles compressed by either codec verify with the other. It runs only
// in a cgo build (so the inner run does not recurse) and not with -short.
func TestPureGo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests the module again without cgo")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	gocmd := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(gobin, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("CGO_ENABLED=0 go %v: %v\n%s", args, err, out)
		}
		return out
	}
	gocmd("test", "-short", "./pkg/verify", "./pkg/zstdio", "./cmd/arxi-verify")
	gocmd("build", "-o", bin, "./cmd/arxi-verify", "./cmd/arxi-bundle")

	// The cgo codec's bundle, verified by the pure-Go binary.
	b := fixture.MustBuild(t, baseStream(), baseSelector())
	zc := filepath.Join(bin, "cgo.arxb.zst")
	if err := os.WriteFile(zc, compress(t, b), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(bin, "arxi-verify"), zc).Output()
	if err != nil {
		t.Fatalf("pure-Go arxi-verify: %v\n%s", err, out)
	}
	want := run(t, b, verify.Config{}).AppendJCS(nil)
	if !bytes.Equal(bytes.TrimSuffix(out, []byte("\n")), want) {
		t.Errorf("pure-Go verdict differs:\n%s\n%s", out, want)
	}

	// The pure-Go codec's bundle, verified here with the cgo codec.
	stream := filepath.Join(bin, "stream.ndjson")
	if err := os.WriteFile(stream, baseStream(), 0o644); err != nil {
		t.Fatal(err)
	}
	zp := filepath.Join(bin, "purego.arxb.zst")
	cmd := exec.Command(filepath.Join(bin, "arxi-bundle"), "--from-stream", "-o", zp)
	cmd.Stdin, _ = os.Open(stream)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pure-Go arxi-bundle: %v\n%s", err, out)
	}
	zb, _ := os.ReadFile(zp)
	v, err := verify.Bundle(context.Background(), bytes.NewReader(zb), verify.Config{})
	if err != nil || !v.Valid() {
		t.Fatalf("pure-Go bundle under cgo: %v", err)
	}
}
