//go:build unix

package safefile

import (
	"io/fs"
	"os"
	"syscall"
)

// openNonblock opens path read-only without waiting for a FIFO's writer.
func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}

// clearNonblock puts a checked (regular) file back in blocking mode;
// O_NONBLOCK means nothing for regular files, but the flag is not left
// behind on the descriptor.
func clearNonblock(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := sc.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), false) }); err != nil {
		return err
	}
	return serr
}

// insecureMode reports whether group or others may read, write or
// execute a file of mode m.
func insecureMode(m fs.FileMode) bool { return m.Perm()&0o077 != 0 }
