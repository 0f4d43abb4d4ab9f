package sqlite

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
)

func wantCode(t *testing.T, what string, err error, code errcode.Code) {
	t.Helper()
	if !errors.Is(err, code) {
		t.Fatalf("%s: error = %v, want %s", what, err, code)
	}
}

func newStore(t *testing.T, path string, stream []byte) {
	t.Helper()
	db, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if stream != nil {
		storetest.Fill(t, db, stream)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenFaults: each bad store is a coded error, for writers and
// readers, and leaves the file exactly as it was.
func TestOpenFaults(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	os.WriteFile(notDB, []byte("these are not the rows you are looking for\n"), 0o644)
	otherApp := filepath.Join(dir, "other.db")
	clitest.ExecSQL(t, otherApp, "CREATE TABLE t (x)")
	newer := filepath.Join(dir, "newer.db")
	newStore(t, newer, storetest.Seal(t, sealing.Config{}, storetest.Events(0, 3), true))
	clitest.ExecSQL(t, newer, "PRAGMA user_version = 99")
	for _, tc := range []struct {
		name     string
		path     string
		readOnly bool
		code     errcode.Code
		msg      string
	}{
		{"missing directory", filepath.Join(dir, "nope", "arxi.db"), false, errcode.StoreIO, "does not exist"},
		{"missing directory, reader", filepath.Join(dir, "nope", "arxi.db"), true, errcode.StoreIO, "does not exist"},
		{"missing file, reader", filepath.Join(dir, "none.db"), true, errcode.StoreIO, "no store"},
		{"a directory", dir, false, errcode.StoreIO, "directory"},
		{"not SQLite", notDB, false, errcode.StoreIO, "not an SQLite database"},
		{"not SQLite, reader", notDB, true, errcode.StoreIO, "not an SQLite database"},
		{"another application's database", otherApp, false, errcode.StoreIO, "another application"},
		{"newer schema", newer, false, errcode.StoreSchema, "schema version 99"},
		{"newer schema, reader", newer, true, errcode.StoreSchema, "schema version 99"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(tc.path)
			db, err := Open(ctx, Config{Path: tc.path, ReadOnly: tc.readOnly})
			if err == nil {
				db.Close()
			}
			wantCode(t, "open", err, tc.code)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			if after, _ := os.ReadFile(tc.path); !bytes.Equal(before, after) {
				t.Errorf("a failed open changed the file")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed open created the missing directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a reader created a store")
	}
	_, err := Open(ctx, Config{Path: filepath.Join(dir, "none.db"), ReadOnly: true})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing store does not wrap fs.ErrNotExist: %v", err)
	}
	_, err = Open(ctx, Config{Path: filepath.Join(dir, "x.db"), Synchronous: "sometimes"})
	wantCode(t, "bad synchronous", err, errcode.ConfigInvalid)
}

// TestOneWriter: a second writer fails at once with store.locked; readers
// are not blocked, even by an open write transaction; the lock goes with
// the writer.
func TestOneWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arxi.db")
	in := storetest.Seal(t, sealing.Config{}, storetest.Events(0, 5), false)
	newStore(t, path, in)
	w, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, Config{Path: path})
	wantCode(t, "second writer", err, errcode.StoreLocked)

	tx, err := w.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.SetMeta(ctx, "k", "uncommitted"); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatalf("reader while writing: %v", err)
	}
	s, _ := store.Open(ctx, r, store.Config{})
	sn, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := sn.WriteStream(ctx, &out, store.Filter{}); err != nil || !bytes.Equal(out.Bytes(), in) {
		t.Errorf("reader during a write transaction: %v", err)
	}
	if _, ok, _ := s.Meta(ctx, "k"); ok {
		t.Errorf("reader sees an uncommitted write")
	}
	sn.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := s.Meta(ctx, "k"); v != "uncommitted" {
		t.Errorf("reader does not see the commit: %q", v)
	}
	r.Close()
	w.Close()
	w2, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatalf("writer after the first closed: %v", err)
	}
	w2.Close()
}

// TestReadOnlyFile: a store the writer may not write is store.io at open,
// before anything is written. As root, permissions do not bind, so the
// store sits on a read-only bind mount instead.
func TestReadOnlyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "arxi.db")
	newStore(t, path, storetest.Seal(t, sealing.Config{}, storetest.Events(0, 3), false))
	if os.Geteuid() == 0 {
		ro := filepath.Join(t.TempDir(), "ro")
		os.Mkdir(ro, 0o755)
		if out, err := exec.Command("mount", "--bind", dir, ro).CombinedOutput(); err != nil {
			t.Skipf("running as root without mount: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", ro).Run() })
		if out, err := exec.Command("mount", "-o", "remount,bind,ro", ro).CombinedOutput(); err != nil {
			t.Skipf("cannot remount read-only: %v %s", err, out)
		}
		path = filepath.Join(ro, "arxi.db")
	} else {
		os.Chmod(path, 0o444)
	}
	before, _ := os.ReadFile(path)
	_, err := Open(ctx, Config{Path: path})
	wantCode(t, "read-only store", err, errcode.StoreIO)
	if !strings.Contains(err.Error(), "read-only") {
		t.Errorf("error %q does not say read-only", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("the failed open changed the file")
	}
	// Readers still work.
	r, err := Open(ctx, Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatalf("reader of a read-only store: %v", err)
	}
	r.Close()
}

// TestDiskFull fills a small tmpfs (root only): the failing batch is
// store.io "disk is full", nothing of it is kept, and the store reopens
// with every committed batch. cmd/arxi-append covers the same with
// RLIMIT_FSIZE, which needs no privileges.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := filepath.Join(t.TempDir(), "small")
	os.Mkdir(dir, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=640k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	path := filepath.Join(dir, "arxi.db")
	in := storetest.Seal(t, sealing.Config{MaxEnvelopes: 100}, storetest.Events(0, 2000), true)
	db, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() // before the unmount
	s, _ := store.Open(ctx, db, store.Config{})
	a, _ := s.Appender(ctx)
	st, err := store.AppendStream(ctx, a, bytes.NewReader(in), store.AppendOptions{Batch: 50})
	wantCode(t, "append to a full disk", err, errcode.StoreIO)
	if !strings.Contains(err.Error(), "disk is full") {
		t.Errorf("error %q does not say the disk is full", err)
	}
	if st.Envelopes == 0 || st.Envelopes%50 != 0 {
		t.Fatalf("committed %d envelopes before the disk filled; want whole batches", st.Envelopes)
	}
	db.Close()

	db, err = Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatalf("reopen after disk full: %v", err)
	}
	defer db.Close()
	s, err = store.Open(ctx, db, store.Config{})
	if err != nil {
		t.Fatalf("verify after disk full: %v", err)
	}
	sn, _ := s.Snapshot(ctx)
	defer sn.Close()
	var out bytes.Buffer
	if err := sn.WriteStream(ctx, &out, store.Filter{}); err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(storetest.Lines(in)[:st.Line], ""); out.String() != want {
		t.Errorf("after disk full the store holds %d bytes, want the %d committed", out.Len(), len(want))
	}
}
