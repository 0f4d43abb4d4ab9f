//go:build unix

package sqlite

import (
	"errors"
	"os"
	"syscall"

	"arxi.dev/arxi/pkg/errcode"
)

// lockFile opens (creating) path and takes an exclusive, non-blocking
// flock on it, held until the file is closed or the process exits.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		f, err = os.Open(path) // a read-only lock file still locks
		if err != nil {
			return nil, ioErr(path, "open the writer lock file", err)
		}
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err == nil {
		return f, nil
	}
	f.Close()
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, &errcode.Error{Code: errcode.StoreLocked, Path: path, Msg: "another process is writing to the store",
			Hint: "a store has one writer at a time; readers such as arxi-query are not blocked"}
	}
	return nil, ioErr(path, "lock the store", err)
}

// writable reports why dir is not writable, or nil.
func writable(dir string) error {
	return syscall.Access(dir, 2) // W_OK
}
