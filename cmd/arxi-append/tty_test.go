//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestPipelineLastStage: arxi-append, the last stage of seal | append,
// draws progress (a sealed stream arriving through a pipe, receipts to a
// file) and clears it; at a terminal with nothing typed, Ctrl-C ends it
// (130) without an error.
func TestPipelineLastStage(t *testing.T) {
	dir := t.TempDir()
	sealed := storetest.Seal(t, sealing.Config{}, storetest.Events(0, 3000), true)
	term := clitest.NewTerminal(t)
	cmd := exec.Command("arxi-append", "--store", filepath.Join(dir, "arxi.db"), "--batch", "100")
	cmd.Env = append(os.Environ(), "ARXI_TEST_PROGRESS_DELAY=0")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "receipts.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, out, term.Tty
	if err := term.Start(cmd); err != nil {
		t.Fatal(err)
	}
	r.Close()
	w.Write(sealed)
	w.Close()
	if code := term.Wait(t, cmd); code != 0 {
		t.Fatalf("exit %d: %q", code, term.Output())
	}
	term.Expect(t, " appending (")
	if o := term.Output(); !strings.HasSuffix(o, "\x1b[2K\r") {
		t.Errorf("progress not cleared: %q", o)
	}

	term = clitest.NewTerminal(t)
	cmd = exec.Command("arxi-append", "--store", filepath.Join(dir, "arxi.db"))
	if err := term.Start(cmd); err != nil {
		t.Fatal(err)
	}
	term.Expect(t, "arxi-append: reading from stdin (Ctrl-D to end)")
	term.Type(t, "\x03")
	if code := term.Wait(t, cmd); code != 130 || strings.Contains(term.Output(), "error") {
		t.Errorf("Ctrl-C: exit %d, %q", code, term.Output())
	}
}
