//go:build unix

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
)

// TestZstdNotToTerminal: a compressed bundle is not written to a
// terminal, before any work; -o naming the terminal is asked for.
func TestZstdNotToTerminal(t *testing.T) {
	dir := t.TempDir()
	if err := fixture.Write(dir, "../../testdata/demo/events.ndjson"); err != nil {
		t.Fatal(err)
	}
	stream, _ := os.ReadFile(filepath.Join(dir, "demo.ndjson"))
	term := clitest.NewTerminal(t)
	var errb bytes.Buffer
	code := run(context.Background(), []string{"--from-stream", "--zstd"}, bytes.NewReader(stream), term.Tty, &errb)
	if code != 2 || !strings.Contains(errb.String(), "usage.invalid: refusing to write binary (zstd) output to a terminal") {
		t.Errorf("exit %d, %q", code, errb.String())
	}
	errb.Reset()
	code = run(context.Background(), []string{"--from-stream", "--zstd", "-o", term.Tty.Name()}, bytes.NewReader(stream), term.Tty, &errb)
	if code != 0 {
		t.Errorf("-o %s: exit %d, %q", term.Tty.Name(), code, errb.String())
	}
	// Plain bundles are text and go to a terminal.
	code = run(context.Background(), []string{"--from-stream"}, bytes.NewReader(stream), term.Tty, &errb)
	if code != 0 {
		t.Errorf("plain to a terminal: exit %d, %q", code, errb.String())
	}
}
