//go:build !unix

package safefile

import (
	"io/fs"
	"os"
)

// openNonblock opens path read-only; without FIFOs there is nothing to
// wait for.
func openNonblock(path string) (*os.File, error) { return os.Open(path) }

func clearNonblock(*os.File) error { return nil }

// insecureMode is false where permission bits do not describe access.
func insecureMode(fs.FileMode) bool { return false }
