//go:build unix

package clitest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Terminal is a pseudo-terminal a test drives a command on: Tty is the
// terminal the command gets, Output everything written to it.
type Terminal struct {
	Tty *os.File
	ctl *os.File

	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// NewTerminal opens a pseudo-terminal, skipping the test where there is
// none, and closes it when the test ends.
func NewTerminal(t *testing.T) *Terminal {
	t.Helper()
	ctl, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	term := &Terminal{Tty: tty, ctl: ctl, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		buf := make([]byte, 4096)
		for {
			n, err := ctl.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { tty.Close(); ctl.Close(); <-term.done })
	return term
}

// Start starts cmd with the terminal as its controlling terminal and as
// its stdin, stdout and stderr where those are not set, as a shell runs
// a foreground job: typing Ctrl-C (Type("\x03")) sends it SIGINT.
func (term *Terminal) Start(cmd *exec.Cmd) error {
	if cmd.Stdin == nil {
		cmd.Stdin = term.Tty
	}
	if cmd.Stdout == nil {
		cmd.Stdout = term.Tty
	}
	if cmd.Stderr == nil {
		cmd.Stderr = term.Tty
	}
	ctty := -1
	for i, f := range []any{cmd.Stdin, cmd.Stdout, cmd.Stderr} {
		if f == term.Tty && ctty < 0 {
			ctty = i
		}
	}
	if ctty < 0 {
		return errors.New("the terminal is none of the command's stdin, stdout and stderr")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: ctty}
	return cmd.Start()
}

// Type writes keystrokes to the terminal.
func (term *Terminal) Type(t *testing.T, s string) {
	t.Helper()
	if _, err := term.ctl.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// Output is what the terminal has shown so far.
func (term *Terminal) Output() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// Expect waits until the terminal has shown want, failing the test after
// a generous while (a hung command, not a slow one).
func (term *Terminal) Expect(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(term.Output(), want) {
			return
		}
	}
	t.Fatalf("the terminal never showed %q; it shows %q", want, term.Output())
}

// Wait waits for cmd, started on the terminal, to exit, then reads what it
// left on the terminal before returning its exit status, so Output holds
// everything the command wrote. A terminal runs one command.
func (term *Terminal) Wait(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	code := Wait(t, cmd)
	// With the last descriptor of the terminal side closed, the reader gets
	// the rest of the output and then an error.
	term.Tty.Close()
	select {
	case <-term.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the terminal's output was not drained")
	}
	return code
}

// Wait waits for cmd to exit and returns its exit status, killing it and
// failing the test if it has not exited after a generous while.
func Wait(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not exit", cmd.Path)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}
