package main

import (
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store/backend"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestPostgresSameOutput: the same stream in an SQLite store and in a
// PostgreSQL log gives the same output, byte for byte, page by page.
func TestPostgresSameOutput(t *testing.T) {
	in := storetest.Seal(t, sealing.Config{MaxEnvelopes: 7}, storetest.Events(0, 30), false)
	path := filepath.Join(t.TempDir(), "arxi.db")
	if err := appendTo(path, in); err != nil {
		t.Fatal(err)
	}
	url := pgtest.NewLog(t)
	b, err := backend.Open(ctx, backend.Config{Store: url})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Fill(t, b, in).Close()
	for _, args := range [][]string{
		{"--format", "stream"},
		{"--trace-id", "trace-1", "--format", "stream"},
		{"--event-type", "tool.call", "--limit", "3"},
		{"--since", "2026-11-22T10:00:05Z", "--until", "2026-11-22T10:00:21Z", "--format", "json", "--limit", "4"},
	} {
		var pages [2][]string
		for i, addr := range []string{path, url} {
			cursor := ""
			for {
				a := append([]string{"--store", addr}, args...)
				if cursor != "" {
					a = append(a, "--cursor", cursor)
				}
				code, stdout, stderr := runQuery(t, a...)
				if code != 0 {
					t.Fatalf("%v: exit %d, %s", a, code, stderr)
				}
				pages[i] = append(pages[i], stdout)
				_, after, ok := strings.Cut(stdout, `"next_cursor":"`)
				if !ok {
					break
				}
				cursor = after[:strings.IndexByte(after, '"')]
			}
		}
		if strings.Join(pages[0], "") != strings.Join(pages[1], "") || len(pages[0]) != len(pages[1]) {
			t.Errorf("%v: PostgreSQL's output differs from SQLite's", args)
		}
	}
}
