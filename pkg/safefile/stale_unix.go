//go:build unix

package safefile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// processAlive reports whether a process with id pid exists: signal 0
// checks without sending anything, and EPERM means it exists as another
// user's.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ownedByUser reports whether this process's user owns the file.
func ownedByUser(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Getuid()
}

// tempHost tags the machine, boot and process namespace this process runs
// in, so that a process id in a temporary file's name is only trusted by
// a process that sees the same processes: 8 hex digits of SHA-256 over
// the host name, the boot id and the PID namespace (the last two where
// the system has them, as Linux does).
var tempHost = sync.OnceValue(func() string {
	h := sha256.New()
	name, _ := os.Hostname()
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, _ := os.Readlink("/proc/self/ns/pid")
	for _, part := range []string{name, string(boot), ns} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:4])
})
