//go:build !linux

package safefile

import "os"

// startWriteback does nothing where sync_file_range is missing: the sync
// before the rename writes the whole file.
func startWriteback(f *os.File, off, n int64) {}
