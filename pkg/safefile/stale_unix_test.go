//go:build unix

package safefile

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets the test binary be the writer that TestKilledWriter
// kills: with ARXI_SAFEFILE_HANG set it writes that output, says so on
// stdout, and waits to be killed before the rename.
func TestMain(m *testing.M) {
	if out := os.Getenv("ARXI_SAFEFILE_HANG"); out != "" {
		Write(context.Background(), out, func(w io.Writer) error {
			io.WriteString(w, "half of it")
			os.Stdout.WriteString("writing\n")
			select {}
		})
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// TestKilledWriter kills a real writer with SIGKILL while it writes OUT:
// its temporary file, recognisable by name (.OUT.arxi-tmp-HOST-PID-…), is
// left beside OUT. The next Write of OUT removes it, and leaves alone
// what it cannot prove to be a dead writer's own: another output's
// temporary file, a live process's, another host's, a symlink, a name
// that only looks like one.
func TestKilledWriter(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "case.arxb")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ARXI_SAFEFILE_HANG="+out)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "writing\n" {
		cmd.Process.Kill()
		t.Fatalf("writer said %q, %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("writer: %v, want killed", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".case.arxb.arxi-tmp-*"))
	want := "." + "case.arxb" + tempMark + tempHost() + "-" + strconv.Itoa(cmd.Process.Pid) + "-"
	if len(left) != 1 || !strings.HasPrefix(filepath.Base(left[0]), want) {
		t.Fatalf("the killed writer left %v, want one %s…", left, want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("the killed writer's output exists")
	}

	// What must stay: a live process's temporary file (this test's
	// parent), another host's, another output's, a symlink, look-alikes.
	live := filepath.Join(dir, "."+"case.arxb"+tempMark+tempHost()+"-"+strconv.Itoa(os.Getppid())+"-abc")
	mine := filepath.Join(dir, "."+"case.arxb"+tempMark+tempHost()+"-"+strconv.Itoa(os.Getpid())+"-abc")
	dead := strconv.Itoa(cmd.Process.Pid)
	keep := []string{live, mine,
		filepath.Join(dir, ".case.arxb"+tempMark+"00000000-"+dead+"-abc"),
		filepath.Join(dir, ".other.arxb"+tempMark+tempHost()+"-"+dead+"-abc"),
		filepath.Join(dir, ".case.arxb"+tempMark+tempHost()+"-"+dead+"-ab-c"),
		filepath.Join(dir, ".case.arxb"+tempMark+tempHost()+"-"+dead+"-"),
		filepath.Join(dir, ".case.arxb"+tempMark+tempHost()+"-x"+dead+"-abc"),
	}
	for _, k := range keep {
		write(t, k, "not ours to remove", 0o600)
	}
	link := filepath.Join(dir, ".case.arxb"+tempMark+tempHost()+"-"+dead+"-link")
	if err := os.Symlink(keep[3], link); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, link)

	if err := Write(context.Background(), out, func(w io.Writer) error { _, err := io.WriteString(w, "whole"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "whole" {
		t.Errorf("output holds %q", b)
	}
	if _, err := os.Lstat(left[0]); err == nil {
		t.Errorf("the killed writer's %s is still there", left[0])
	}
	for _, k := range keep {
		if _, err := os.Lstat(k); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(k), err)
		}
	}
}
