package sqlite

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockState tells whether a process holds the flock(2) on the lock file,
// from /proc/locks: without taking the lock, even for a moment, which
// would make a writer starting at that moment fail with store.locked.
func lockState(path string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return "free" // no lock file: no writer has opened the store here
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF
		fields := strings.Fields(sc.Text())
		if len(fields) >= 6 && fields[1] == "FLOCK" && fields[5] == want {
			return "held"
		}
	}
	return "free"
}
