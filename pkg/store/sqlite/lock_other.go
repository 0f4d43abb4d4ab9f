//go:build !unix

package sqlite

import (
	"os"

	"arxi.dev/arxi/pkg/errcode"
)

// lockFile is not implemented off Unix: there is no writer lock to take,
// so opening a store for writing is refused rather than left unguarded.
func lockFile(path string) (*os.File, error) {
	return nil, &errcode.Error{Code: errcode.StoreIO, Path: path, Msg: "writing a store needs flock(2), which this platform lacks"}
}

func writable(dir string) error { return nil }
