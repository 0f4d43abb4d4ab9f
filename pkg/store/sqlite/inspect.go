package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"syscall"

	"arxi.dev/arxi/pkg/store"
	"github.com/dustin/go-humanize"
)

// Inspect implements store.Inspector: the schema version, whether a
// writer holds the lock file, the sizes of the database file, its
// write-ahead log and its free pages, and the free space of its file
// system.
func (db *DB) Inspect(ctx context.Context) (*store.Inspection, error) {
	c, err := db.reader()
	if err != nil {
		return nil, err
	}
	defer db.release(c)
	in := &store.Inspection{Backend: "sqlite", Writer: lockState(db.path + "-lock")}
	row, err := c.queryRow(ctx, "PRAGMA user_version")
	if err != nil {
		return nil, mapErr(db.path, "read store header", err)
	}
	v, _ := asInt(row[0])
	in.SchemaVersion = int(v)
	size := func(path string) int64 {
		if st, err := os.Stat(path); err == nil {
			return st.Size()
		}
		return 0
	}
	bytes := func(name string, n int64) store.Fact {
		return store.Fact{Name: name, Value: n, Text: humanize.IBytes(uint64(max(n, 0)))}
	}
	in.Facts = append(in.Facts, bytes("file_bytes", size(db.path)), bytes("wal_bytes", size(db.path+"-wal")))
	free, err1 := c.queryRow(ctx, "PRAGMA freelist_count")
	page, err2 := c.queryRow(ctx, "PRAGMA page_size")
	if err1 == nil && err2 == nil {
		f, _ := asInt(free[0])
		p, _ := asInt(page[0])
		in.Facts = append(in.Facts, bytes("free_page_bytes", f*p))
	}
	var fs syscall.Statfs_t
	if abs, err := filepath.Abs(db.path); err == nil && syscall.Statfs(filepath.Dir(abs), &fs) == nil {
		in.Facts = append(in.Facts, bytes("disk_free_bytes", int64(fs.Bavail)*int64(fs.Bsize)))
	}
	return in, nil
}
