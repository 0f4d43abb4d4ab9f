//go:build unix

package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/creack/pty"
)

// openPTY returns a terminal (the pty's tty end) and its controller.
func openPTY(t *testing.T) (tty, ctl *os.File) {
	t.Helper()
	ctl, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { ctl.Close(); tty.Close() })
	return tty, ctl
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// TestTerminalOutput: on a terminal, binary output is refused, tables are
// aligned and timestamps short; elsewhere none of that.
func TestTerminalOutput(t *testing.T) {
	tty, _ := openPTY(t)
	if !IsTerminal(tty) {
		t.Fatal("the pty is not a terminal")
	}
	c := New("arxi-test", "", tty, io.Discard)
	called := false
	err := c.Output(context.Background(), "", true, func(io.Writer) error { called = true; return nil })
	if errcode.CodeOf(err) != errcode.UsageInvalid || called {
		t.Errorf("binary output on a terminal: %v (written: %v)", err, called)
	}
	if err := c.Output(context.Background(), "-", false, func(io.Writer) error { return nil }); err != nil {
		t.Errorf("text output on a terminal: %v", err)
	}
	ts, _ := scalar.ParseTimestamp("2026-11-22T10:00:00.5Z")
	if got := c.Time(ts); got != "2026-11-22 10:00:00Z" {
		t.Errorf("Time on a terminal = %q", got)
	}
	if tb := c.Table(); tb.tw == nil {
		t.Error("a table on a terminal is not aligned")
	}
	_, w := pipe(t)
	c = New("arxi-test", "", w, io.Discard)
	if got := c.Time(ts); got != "2026-11-22T10:00:00.500000000Z" {
		t.Errorf("Time off a terminal = %q", got)
	}
	if err := c.Output(context.Background(), "", true, func(io.Writer) error { return nil }); err != nil {
		t.Errorf("binary output to a pipe: %v", err)
	}
}

// TestProgressAuto: auto draws when stderr is a terminal and stdout is not
// a pipe, so that in a pipeline only the last stage draws.
func TestProgressAuto(t *testing.T) {
	tty, _ := openPTY(t)
	_, w := pipe(t)
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, tc := range []struct {
		name   string
		stdout io.Writer
		stderr io.Writer
		json   bool
		want   bool
	}{
		{"last stage, stdout a file", file, tty, false, true},
		{"last stage, stdout the terminal", tty, tty, false, true},
		{"first stage, stdout a pipe", w, tty, false, false},
		{"stderr not a terminal", file, file, false, false},
		{"JSON diagnostics", file, tty, true, false},
	} {
		c := New("arxi-test", "", tc.stdout, tc.stderr)
		if tc.json {
			c.errorFormat = "json"
		}
		p, _ := c.NewProgress("auto", "x", "y")
		if (p.bar != nil) != tc.want {
			t.Errorf("%s: enabled = %v, want %v", tc.name, (p.bar != nil), tc.want)
		}
	}
}

// TestInterruptible: a read waiting on a pipe returns context.Canceled
// as soon as the context ends; a regular file is read directly.
func TestInterruptible(t *testing.T) {
	r, w := pipe(t)
	ctx, cancel := context.WithCancel(context.Background())
	in := Interruptible(ctx, r)
	w.Write([]byte("line\n"))
	buf := make([]byte, 64)
	if n, err := in.Read(buf); err != nil || string(buf[:n]) != "line\n" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	done := make(chan error)
	go func() {
		_, err := in.Read(buf)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel = %v", err)
	}
	if _, err := in.Read(buf); !errors.Is(err, context.Canceled) {
		t.Errorf("a later Read = %v", err)
	}
	f, _ := os.Open(os.Args[0])
	defer f.Close()
	if Interruptible(ctx, f) != io.Reader(f) {
		t.Error("a regular file is wrapped")
	}
}

// TestInputFIFO: a FIFO named as input is waited for only until the
// context ends; stdin on a terminal is announced.
func TestInputFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip(err)
	}
	c, _, _, _ := newTest()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Input(ctx, p, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Input(FIFO without writer) = %v", err)
	}
	if _, err := c.Input(context.Background(), filepath.Dir(p), nil); errcode.CodeOf(err) != errcode.IOFailed {
		t.Errorf("Input(directory) = %v", err)
	}
	tty, _ := openPTY(t)
	c, _, _, errb := newTest()
	if _, err := c.Input(context.Background(), "-", tty); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "reading from stdin (Ctrl-D to end)") {
		t.Errorf("stderr = %q", errb)
	}
}

// TestConfigFIFO: a FIFO as --config is refused at once, not read.
func TestConfigFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip(err)
	}
	c, _, _, _ := newTest()
	if err := c.Parse([]string{"--config", p}); errcode.CodeOf(err) != errcode.ConfigInvalid || !strings.Contains(err.Error(), "a FIFO") {
		t.Errorf("--config FIFO: %v", err)
	}
}
