package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPipeline runs the real binaries joined by OS pipes, as the issue's
// operator does:
//
//	arxi-openclaw capture | arxi-seal --sign-key K | arxi-bundle --from-stream | arxi-verify --trust-root R
//
// and expects a valid verdict; the same with one byte of the bundle
// changed is invalid.
func TestPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four binaries")
	}
	dir := t.TempDir()
	names := []string{"arxi-openclaw", "arxi-seal", "arxi-bundle", "arxi-verify"}
	args := []string{"build", "-o", dir + "/"}
	for _, n := range names {
		args = append(args, "arxi.dev/arxi/cmd/"+n)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bin := func(n string) string { return filepath.Join(dir, n) }
	run := func(stdin []byte, name string, args ...string) ([]byte, error) {
		var stderr bytes.Buffer
		cmd := exec.Command(bin(name), args...)
		cmd.Stdin, cmd.Stderr = bytes.NewReader(stdin), &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Logf("%s: %v: %s", name, err, stderr.String())
		}
		return out, err
	}
	key, root := filepath.Join(dir, "key.pem"), filepath.Join(dir, "root.json")
	entry, err := run(nil, "arxi-seal", "keygen", "--insecure-plain-key", "-o", key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.json"), entry, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(nil, "arxi-verify", "trust-root", "-o", root, filepath.Join(dir, "key.json")); err != nil {
		t.Fatal(err)
	}

	// The first three stages are joined by the shell's pipes.
	capture, err := filepath.Abs("../../testdata/openclaw/capture.frames.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	pipeline := fmt.Sprintf("set -o pipefail; %q %q | %q --recorder-id oc-recorder --seal-at-end --sign-key %q --insecure-plain-key | %q --from-stream",
		bin("arxi-openclaw"), capture, bin("arxi-seal"), key, bin("arxi-bundle"))
	var bundled, stderr bytes.Buffer
	sh := exec.Command("bash", "-c", pipeline)
	sh.Stdout, sh.Stderr = &bundled, &stderr
	if err := sh.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", pipeline, err, stderr.String())
	}

	verdict, err := run(bundled.Bytes(), "arxi-verify", "--trust-root", root, "-")
	if err != nil || !bytes.Contains(verdict, []byte(`"status":"valid"`)) {
		t.Fatalf("arxi-verify: %v\n%s", err, verdict)
	}
	tampered := bytes.Replace(bundled.Bytes(), []byte(`"event_type":"openclaw.`), []byte(`"event_type":"openclaX.`), 1)
	if bytes.Equal(tampered, bundled.Bytes()) {
		t.Fatal("no envelope of an OpenClaw event type in the bundle")
	}
	if verdict, err := run(tampered, "arxi-verify", "--trust-root", root, "-"); err == nil || !bytes.Contains(verdict, []byte(`"status":"invalid"`)) {
		t.Fatalf("arxi-verify of a tampered bundle: %v\n%s", err, verdict)
	}
}
