package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/sqlite"
	"arxi.dev/arxi/pkg/store/storetest"
)

// appendTo appends a sealed stream to the store at path and returns the
// whole store as a stream.
func appendTo(t *testing.T, path string, sealed []byte) []byte {
	t.Helper()
	db, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := storetest.Fill(t, db, sealed)
	sn, _ := s.Snapshot(t.Context())
	defer sn.Close()
	var out bytes.Buffer
	if err := sn.WriteStream(t.Context(), &out, store.Filter{}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestStore covers --store and --open (SPEC §7): start a new store,
// continue its open segment while arxi-append holds the writer lock, and
// link a new segment to a sealed one.
func TestStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "arxi.db")
	events := storetest.Events(0, 9)

	code, _, stderr := runSeal(t, events, "--recorder-id", "r", "--store", path)
	if code != 4 || !strings.Contains(stderr, "store.io") || !strings.Contains(stderr, "the store does not exist") {
		t.Errorf("missing store without --open: exit %d, %s", code, stderr)
	}
	// A store that does not exist yet is empty for --open.
	code, first, stderr := runSeal(t, events, "--recorder-id", "r", "--store", path, "--open")
	if code != 0 || !strings.Contains(storetest.Lines([]byte(first))[0], `"predecessor_chain_head":null`) {
		t.Fatalf("new store: exit %d, %s", code, stderr)
	}
	appendTo(t, path, []byte(first))

	// Continue the open segment while a writer holds the lock: the output
	// announces the open segment's genesis again, then sequence 10.
	w, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	code, more, stderr := runSeal(t, storetest.Events(9, 12), "--recorder-id", "r", "--store", path, "--seal-at-end")
	w.Close()
	if code != 0 {
		t.Fatalf("continue: exit %d, %s", code, stderr)
	}
	lines := storetest.Lines([]byte(more))
	if lines[0] != storetest.Lines([]byte(first))[0] || !strings.Contains(lines[1], `"sequence":10,`) {
		t.Errorf("continuation starts %s%s", lines[0], lines[1])
	}
	all := appendTo(t, path, []byte(more))
	storetest.CheckStream(t, all)

	// Everything is sealed now: a plain --store fails, --open links.
	code, _, stderr = runSeal(t, events, "--recorder-id", "r", "--store", path)
	if code != 2 || !strings.Contains(stderr, "segment.none_open") || !strings.Contains(stderr, "hint: pass --open") {
		t.Errorf("nothing open: exit %d, %s", code, stderr)
	}
	code, next, stderr := runSeal(t, storetest.Events(20, 22), "--recorder-id", "r", "--store", path, "--open", "--seal-at-end")
	if code != 0 {
		t.Fatalf("--open: exit %d, %s", code, stderr)
	}
	seal := storetest.Lines(all)[len(storetest.Lines(all))-1]
	head := seal[strings.Index(seal, `"head_chain_hash":"`)+len(`"head_chain_hash":"`):]
	head = head[:strings.IndexByte(head, '"')]
	if !strings.Contains(storetest.Lines([]byte(next))[0], `"predecessor_chain_head":"`+head+`"`) {
		t.Errorf("new segment does not link to the sealed head %s: %s", head, storetest.Lines([]byte(next))[0])
	}
	storetest.CheckStream(t, appendTo(t, path, []byte(next)))
}

func TestStoreFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arxi.db")
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"--open without --store", []string{"--open"}, 2, "usage.invalid: --open needs --store"},
		{"--store with a predecessor", []string{"--store", path, "--predecessor-segment", "01a202b2-c500-7fca-84b6-746b5f17ba11",
			"--predecessor-head", "sha256:" + strings.Repeat("00", 32)}, 2, "usage.invalid"},
		{"--store in a missing directory", []string{"--store", filepath.Join(path, "x", "arxi.db"), "--open"}, 4, "store.io"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runSeal(t, storetest.Event(0), append([]string{"--recorder-id", "r"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.err) {
				t.Errorf("exit %d, stderr %s; want %d %s", code, stderr, tc.code, tc.err)
			}
		})
	}
	// A corrupted store is not continued.
	in := storetest.Seal(t, sealing.Config{}, storetest.Events(0, 3), false)
	appendTo(t, path, in)
	db, _ := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	tx, _ := db.Begin(t.Context())
	tx.UpdateSegment(t.Context(), &store.SegmentRow{Order: 1, Count: 3, Head: [32]byte{1}})
	tx.Commit()
	db.Close()
	code, stdout, stderr := runSeal(t, storetest.Event(5), "--recorder-id", "r", "--store", path)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "store.corrupt") {
		t.Errorf("corrupt store: exit %d, %s", code, stderr)
	}
}
