//go:build unix

package sqlite

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
)

// TestOpenNotRegular: a FIFO (which would block SQLite's open until a
// writer came) or a device given as the store is refused at once, for
// writers and readers (SPEC §13).
func TestOpenNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "arxi.db")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	for _, path := range []string{fifo, "/dev/null"} {
		for _, ro := range []bool{false, true} {
			db, err := Open(ctx, Config{Path: path, ReadOnly: ro})
			if err == nil {
				db.Close()
			}
			wantCode(t, path, err, errcode.StoreIO)
			if err != nil && !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s: %v does not say why", path, err)
			}
		}
	}
}
