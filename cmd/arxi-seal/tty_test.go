//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"arxi.dev/arxi/internal/clitest"
)

// The tests here run arxi-seal as a real process on a pseudo-terminal,
// the way a person at a shell does. testscript.Main (TestMain) has put an
// arxi-seal built from this package on $PATH.

func command(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("arxi-seal", args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "ARXI_TEST_PROGRESS_DELAY=0")
	return cmd
}

// TestInterruptOnTerminal: arxi-seal waiting for the next line a person
// types ends at once on Ctrl-C (exit 130) or SIGTERM (143), having
// written the records of the lines before, whole, and no error.
func TestInterruptOnTerminal(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(t *testing.T, term *clitest.Terminal, cmd *exec.Cmd)
		code int
	}{
		{"Ctrl-C", func(t *testing.T, term *clitest.Terminal, _ *exec.Cmd) { term.Type(t, "\x03") }, 130},
		{"SIGTERM", func(t *testing.T, _ *clitest.Terminal, cmd *exec.Cmd) { cmd.Process.Signal(syscall.SIGTERM) }, 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			term := clitest.NewTerminal(t)
			var out bytes.Buffer
			// Progress, drawn at once, shows when the typed line is sealed.
			cmd := command(t, "--recorder-id", "r", "--progress", "always")
			cmd.Stdout = &out
			if err := term.Start(cmd); err != nil {
				t.Fatal(err)
			}
			term.Expect(t, "arxi-seal: reading from stdin (Ctrl-D to end)")
			term.Type(t, good) // one event, typed
			term.Expect(t, " sealing (1, ")
			tc.stop(t, term, cmd)
			if code := term.Wait(t, cmd); code != tc.code {
				t.Errorf("exit %d, want %d; terminal: %q", code, tc.code, term.Output())
			}
			if strings.Contains(term.Output(), "error") {
				t.Errorf("an interrupt reported an error: %q", term.Output())
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], `"record":"genesis"`) || !strings.Contains(lines[1], `"record":"envelope"`) {
				t.Fatalf("stdout = %q, want the typed event's genesis and envelope", out.String())
			}
			for _, l := range lines {
				if !json.Valid([]byte(l)) {
					t.Errorf("half-written line %q", l)
				}
			}
		})
	}
}

// TestProgressOnTerminal: progress draws on a terminal stderr when stdout
// is a file (the last stage of a pipeline), not when stdout is a pipe (an
// earlier stage), and is cleared before an error.
func TestProgressOnTerminal(t *testing.T) {
	events := clitest.Events(3000)
	dir := t.TempDir()
	in := filepath.Join(dir, "events.ndjson")
	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(in, events, 0o644)
	os.WriteFile(bad, append(events, "{\n"...), 0o644)
	run := func(t *testing.T, input string, stdout any) (*clitest.Terminal, int) {
		t.Helper()
		term := clitest.NewTerminal(t)
		cmd := command(t, "--recorder-id", "r")
		f, err := os.Open(input)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin, cmd.Stderr = f, term.Tty
		switch w := stdout.(type) {
		case string:
			out, err := os.Create(filepath.Join(dir, w))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			cmd.Stdout = out
		case *os.File:
			cmd.Stdout = w
		}
		if err := term.Start(cmd); err != nil {
			t.Fatal(err)
		}
		return term, term.Wait(t, cmd)
	}

	t.Run("last stage draws", func(t *testing.T) {
		term, code := run(t, in, "out.ndjson")
		if code != 0 {
			t.Fatalf("exit %d: %q", code, term.Output())
		}
		term.Expect(t, " sealing (")
		term.Expect(t, " envelopes/s)")
		if out := term.Output(); !strings.HasSuffix(out, "\x1b[2K\r") {
			t.Errorf("the progress line is not cleared at the end: %q", out)
		}
	})
	t.Run("earlier stage stays quiet", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() { // the next stage of the pipeline
			var sink bytes.Buffer
			sink.ReadFrom(r)
			r.Close()
		}()
		term, code := run(t, in, w)
		w.Close()
		if code != 0 || term.Output() != "" {
			t.Errorf("exit %d, terminal %q; want 0 and nothing", code, term.Output())
		}
	})
	t.Run("cleared before an error", func(t *testing.T) {
		term, code := run(t, bad, "out2.ndjson")
		if code != 3 {
			t.Fatalf("exit %d, want 3: %q", code, term.Output())
		}
		term.Expect(t, "arxi-seal: error: line 3001: input.malformed_json")
		out := term.Output()
		i := strings.Index(out, "arxi-seal: error:")
		if !strings.Contains(out, " sealing (") || !strings.HasSuffix(out[:i], "\x1b[2K\r") {
			t.Errorf("the error does not follow a cleared progress line: %q", out)
		}
		if strings.Contains(out[i:], "sealing") {
			t.Errorf("progress drawn after the error: %q", out[i:])
		}
	})
}

// TestKeygenPrompt: keygen at a terminal, with no passphrase given, asks
// twice without echo; the key opens with what was typed.
func TestKeygenPrompt(t *testing.T) {
	term := clitest.NewTerminal(t)
	cmd := command(t, "keygen", "-o", "key.pem")
	cmd.Env = append(cmd.Env, "ARXI_SIGN_PASSPHRASE=")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := term.Start(cmd); err != nil {
		t.Fatal(err)
	}
	term.Expect(t, "passphrase for key.pem: ")
	term.Type(t, "typed secret\r")
	term.Expect(t, "the same again: ")
	term.Type(t, "typed secret\r")
	if code := term.Wait(t, cmd); code != 0 {
		t.Fatalf("keygen exit %d: %q", code, term.Output())
	}
	if strings.Contains(term.Output(), "typed secret") {
		t.Errorf("the passphrase was echoed: %q", term.Output())
	}
	pub := command(t, "pubkey", filepath.Join(cmd.Dir, "key.pem"))
	pub.Env = append(pub.Env, "ARXI_SIGN_PASSPHRASE=typed secret")
	got, err := pub.Output()
	if err != nil || !bytes.Equal(got, out.Bytes()) {
		t.Errorf("pubkey = %s, %v; keygen printed %s", got, err, out.Bytes())
	}

	// Two different answers make no key.
	term = clitest.NewTerminal(t)
	cmd = command(t, "keygen", "-o", "key.pem")
	cmd.Env = append(cmd.Env, "ARXI_SIGN_PASSPHRASE=")
	if err := term.Start(cmd); err != nil {
		t.Fatal(err)
	}
	term.Expect(t, "passphrase for key.pem: ")
	term.Type(t, "one\r")
	term.Expect(t, "the same again: ")
	term.Type(t, "two\r")
	if code := term.Wait(t, cmd); code != 2 || !strings.Contains(term.Output(), "key.passphrase: the two passphrases differ") {
		t.Errorf("mismatch: exit %d, %q", code, term.Output())
	}
	if _, err := os.Stat(filepath.Join(cmd.Dir, "key.pem")); err == nil {
		t.Error("a key was written")
	}
}
