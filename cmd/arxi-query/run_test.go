package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store/sqlite"
	"arxi.dev/arxi/pkg/store/storetest"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"arxi-query": main})
}

var ctx = context.Background()

func TestScripts(t *testing.T) {
	clitest.Scripts(t, testscript.Params{
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// mkstore DB EVENTS [MAX]: seal EVENTS (segments of MAX, all
			// sealed) as arxi-seal --seal-at-end would, write the sealed
			// stream to DB.ndjson and append it to the store DB.
			"mkstore": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 || len(args) > 3 {
					ts.Fatalf("usage: mkstore DB EVENTS [MAX]")
				}
				cfg := sealing.Config{RecorderID: storetest.Recorder}
				if len(args) == 3 {
					n, err := strconv.ParseUint(args[2], 10, 64)
					ts.Check(err)
					cfg.MaxEnvelopes = n
				}
				sl, err := sealing.New(cfg)
				ts.Check(err)
				var sealed bytes.Buffer
				_, err = sealing.Stream(ctx, sl, strings.NewReader(ts.ReadFile(args[1])), &sealed, sealing.StreamOptions{SealAtEnd: true})
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]+".ndjson"), sealed.Bytes(), 0o644))
				ts.Check(appendTo(ts.MkAbs(args[0]), sealed.Bytes()))
			},
			// cursor VAR: set VAR to the next_cursor of the page on stdout.
			"cursor": func(ts *testscript.TestScript, neg bool, args []string) {
				out := strings.TrimSuffix(ts.ReadFile("stdout"), "\n")
				var p struct {
					Next string `json:"next_cursor"`
				}
				ts.Check(json.Unmarshal([]byte(out[strings.LastIndex(out, "\n")+1:]), &p))
				ts.Setenv(args[0], p.Next)
			},
			// segment VAR FILE N: set VAR to the id of the Nth segment of a
			// sealed stream.
			"segment": func(ts *testscript.TestScript, neg bool, args []string) {
				n, err := strconv.Atoi(args[2])
				ts.Check(err)
				for _, l := range storetest.Lines([]byte(ts.ReadFile(args[1]))) {
					if strings.Contains(l, `"record":"genesis"`) {
						if n--; n == 0 {
							var g struct {
								ID string `json:"segment_id"`
							}
							ts.Check(json.Unmarshal([]byte(l), &g))
							ts.Setenv(args[0], g.ID)
							return
						}
					}
				}
				ts.Fatalf("no segment %s", args[2])
			},
		},
	})
}

// appendTo appends a sealed stream to the store at path.
func appendTo(path string, sealed []byte) error {
	db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = storetest.Append(ctx, db, bytes.NewReader(sealed))
	return err
}

func runQuery(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "arxi.db")
	in := storetest.Seal(t, sealing.Config{MaxEnvelopes: 5}, storetest.Events(0, 12), false)
	if err := appendTo(path, in); err != nil {
		t.Fatal(err)
	}
	_, page, _ := runQuery(t, "--store", path, "--limit", "1", "--trace-id", "trace-1")
	var p struct {
		Next string `json:"next_cursor"`
	}
	json.Unmarshal([]byte(page[strings.LastIndex(strings.TrimSuffix(page, "\n"), "\n")+1:]), &p)
	if p.Next == "" {
		t.Fatalf("no cursor in %q", page)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"ok", []string{}, 0, ""},
		{"json", []string{"--format", "json"}, 0, ""},
		{"stream", []string{"--format", "stream"}, 0, ""},
		{"next page", []string{"--limit", "1", "--trace-id", "trace-1", "--cursor", p.Next}, 0, ""},
		{"help", []string{"--help"}, 0, ""},
		{"version", []string{"--version"}, 0, ""},
		{"unknown flag", []string{"--nope"}, 2, "usage.invalid"},
		{"argument", []string{"x"}, 2, "usage.invalid"},
		{"bad format", []string{"--format", "xml"}, 2, "usage.invalid"},
		{"limit 0", []string{"--limit", "0"}, 2, "config.invalid"},
		{"limit too large", []string{"--limit", "10001"}, 2, "config.invalid"},
		{"stream with limit", []string{"--format", "stream", "--limit", "5"}, 2, "usage.invalid"},
		{"stream with cursor", []string{"--format", "stream", "--cursor", p.Next}, 2, "usage.invalid"},
		{"bad segment", []string{"--segment", "nope"}, 2, "config.invalid"},
		{"unknown segment", []string{"--segment", "01a202b2-c500-7fca-84b6-746b5f17ba11"}, 2, "segment.not_found"},
		{"bad event type", []string{"--event-type", "Tool Call"}, 2, "config.invalid"},
		{"bad time", []string{"--since", "2026-11-22T10:00:00+01:00"}, 2, "config.invalid"},
		{"since after until", []string{"--since", "2026-11-23T00:00:00Z", "--until", "2026-11-22T00:00:00Z"}, 2, "usage.invalid"},
		{"after-sequence without segment", []string{"--after-sequence", "3"}, 2, "usage.invalid"},
		{"bad cursor", []string{"--cursor", "abc"}, 2, "usage.invalid"},
		{"cursor of another filter", []string{"--cursor", p.Next, "--trace-id", "trace-2"}, 2, "usage.invalid"},
		{"missing store", []string{"--store", filepath.Join(dir, "none.db")}, 4, "store.io"},
		{"missing directory", []string{"--store", filepath.Join(dir, "no", "arxi.db")}, 4, "store.io"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if !strings.Contains(strings.Join(args, " "), "--store") {
				args = append([]string{"--store", path}, args...)
			}
			code, _, stderr := runQuery(t, args...)
			clitest.CheckExit(t, code, stderr, tc.code, tc.err)
		})
	}
}

// TestPagingWhileAppending pages through a trace with the CLI while
// batches are appended between pages: every match is returned once, in
// store order, the new ones included (the pager had not reached the end
// when they arrived; a page that ends the matches has a null cursor).
func TestPagingWhileAppending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arxi.db")
	full := storetest.Seal(t, sealing.Config{MaxEnvelopes: 7}, storetest.Events(0, 60), true)
	lines := storetest.Lines(full)
	cut := len(lines) / 3
	for lineOf := func(i int) bool { return strings.Contains(lines[i], `"record":"seal"`) }; !lineOf(cut); cut++ {
	}
	cut++
	if err := appendTo(path, []byte(strings.Join(lines[:cut], ""))); err != nil {
		t.Fatal(err)
	}
	var got []string
	cursor := ""
	for page := 0; page < 100; page++ {
		args := []string{"--store", path, "--trace-id", "trace-2", "--limit", "3", "--format", "json"}
		if cursor != "" {
			args = append(args, "--cursor", cursor)
		}
		code, stdout, stderr := runQuery(t, args...)
		if code != 0 {
			t.Fatal(stderr)
		}
		var p struct {
			Envelopes []struct {
				Segment  string `json:"segment_id"`
				Sequence int    `json:"sequence"`
			} `json:"envelopes"`
			Next *string `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(stdout), &p); err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Envelopes {
			got = append(got, e.Segment+"/"+strconv.Itoa(e.Sequence))
		}
		if page == 0 {
			// More evidence arrives between pages.
			if err := appendTo(path, []byte(strings.Join(lines[cut:], ""))); err != nil {
				t.Fatal(err)
			}
		}
		if p.Next == nil {
			break
		}
		cursor = *p.Next
	}
	var want []string
	for _, e := range storetest.Envelopes(t, full) {
		if e.TraceID.String() == "trace-2" {
			want = append(want, e.SegmentID.String()+"/"+strconv.FormatUint(e.Sequence, 10))
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("pages returned\n%v\nwant\n%v", got, want)
	}
}

// TestOutputFile: -o writes atomically; a failed query leaves no file.
func TestOutputFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "arxi.db")
	in := storetest.Seal(t, sealing.Config{}, storetest.Events(0, 5), true)
	if err := appendTo(path, in); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.ndjson")
	if code, _, stderr := runQuery(t, "--store", path, "--format", "stream", "-o", out); code != 0 {
		t.Fatal(stderr)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, in) {
		t.Errorf("-o file differs from the appended stream")
	}
	bad := filepath.Join(dir, "bad.ndjson")
	if code, _, _ := runQuery(t, "--store", path, "--segment", "01a202b2-c500-7fca-84b6-746b5f17ba11", "-o", bad); code == 0 {
		t.Fatal("query of an unknown segment succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "bad") || strings.HasPrefix(e.Name(), ".bad") {
			t.Errorf("a failed query left %s", e.Name())
		}
	}
}
