package cli

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGrowPipes: a pipe grows to pipeSize (when the system allows it);
// a regular file is left alone.
func TestGrowPipes(t *testing.T) {
	max, err := os.ReadFile("/proc/sys/fs/pipe-max-size")
	if n, _ := strconv.Atoi(strings.TrimSpace(string(max))); err != nil || n < pipeSize {
		t.Skipf("pipe-max-size %q is below %d", max, pipeSize)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	file, err := os.Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	before, _ := unix.FcntlInt(r.Fd(), unix.F_GETPIPE_SZ, 0)
	growPipes(w, file)
	after, err := unix.FcntlInt(r.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil || after != pipeSize {
		t.Errorf("pipe of %d bytes is %d after growPipes (%v), want %d", before, after, err, pipeSize)
	}
}
