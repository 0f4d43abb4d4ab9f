package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/sqlite"
	"arxi.dev/arxi/pkg/store/storetest"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		childMain()
		return
	}
	testscript.Main(m, map[string]func(){"arxi-append": main})
}

var ctx = context.Background()

func TestScripts(t *testing.T) {
	clitest.Scripts(t, testscript.Params{
		Cmds: scriptCmds,
	})
}

// scriptCmds are helpers for the scripts: seal events as arxi-seal would
// (arxi-seal is another binary), edit a line, and run SQL behind the
// store's back.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// seal [-store DB [-open]] [-max N] [-end] EVENTS: the sealed stream on
	// stdout.
	"seal": func(ts *testscript.TestScript, neg bool, args []string) {
		var cfg sealing.Config
		var storePath string
		open, end := false, false
		for len(args) > 1 {
			switch args[0] {
			case "-store":
				storePath, args = args[1], args[2:]
			case "-open":
				open, args = true, args[1:]
			case "-end":
				end, args = true, args[1:]
			case "-max":
				n, err := strconv.ParseUint(args[1], 10, 64)
				ts.Check(err)
				cfg.MaxEnvelopes, args = n, args[2:]
			default:
				ts.Fatalf("seal: unknown option %s", args[0])
			}
		}
		if len(args) != 1 {
			ts.Fatalf("usage: seal [-store DB [-open]] [-max N] [-end] EVENTS")
		}
		if storePath != "" {
			db, err := sqlite.Open(ctx, sqlite.Config{Path: ts.MkAbs(storePath), ReadOnly: true})
			if err == nil {
				s, _ := store.Open(ctx, db, store.Config{VerifyDepth: store.NoVerify})
				var h *store.Head
				if h, err = s.Head(ctx, open); err == nil {
					cfg.Start = sealing.Continue(h.Genesis, h.Chain, h.LastClaimedAt, h.Last)
				}
				db.Close()
			} else if open && errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
			if err != nil {
				if !neg {
					ts.Fatalf("seal: %v", err)
				}
				fmt.Fprintln(ts.Stderr(), err)
				return
			}
		}
		cfg.RecorderID = storetest.Recorder
		sl, err := sealing.New(cfg)
		ts.Check(err)
		_, err = sealing.Stream(ctx, sl, strings.NewReader(ts.ReadFile(args[0])), ts.Stdout(), sealing.StreamOptions{SealAtEnd: end})
		ts.Check(err)
	},
	// replace FILE N OLD NEW: replace OLD by NEW once in line N of FILE.
	"replace": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 4 {
			ts.Fatalf("usage: replace FILE N OLD NEW")
		}
		lines := storetest.Lines([]byte(ts.ReadFile(args[0])))
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		if !strings.Contains(lines[n-1], args[2]) {
			ts.Fatalf("replace: line %d has no %q", n, args[2])
		}
		lines[n-1] = strings.Replace(lines[n-1], args[2], args[3], 1)
		ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strings.Join(lines, "")), 0o644))
	},
}

func runAppend(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := storetest.Seal(t, sealing.Config{MaxEnvelopes: 4}, storetest.Events(0, 10), false)
	sealed := storetest.Seal(t, sealing.Config{}, storetest.Events(0, 3), true)
	tampered := bytes.Replace(good, []byte(`"payload":{"i":2}`), []byte(`"payload":{"i":9}`), 1)
	notDB := filepath.Join(dir, "not.db")
	os.WriteFile(notDB, []byte("hello\n"), 0o644)
	newer := filepath.Join(dir, "newer.db")
	if code, _, stderr := runAppend(t, sealed, "--store", newer); code != 0 {
		t.Fatalf("setup: %s", stderr)
	}
	clitest.ExecSQL(t, newer, "PRAGMA user_version = 7")
	fresh := func() string { return filepath.Join(t.TempDir(), "arxi.db") }
	unsealed, err := canonical.Transform([]byte(storetest.Event(0)))
	if err != nil {
		t.Fatal(err)
	}
	unsealed = append(unsealed, '\n')
	for _, tc := range []struct {
		name  string
		args  []string
		stdin []byte
		code  int
		err   string
	}{
		{"ok", []string{"--store", fresh()}, good, 0, ""},
		{"empty input", []string{"--store", fresh()}, nil, 0, ""},
		{"help", []string{"--help"}, nil, 0, ""},
		{"version", []string{"--version"}, nil, 0, ""},
		{"unknown flag", []string{"--nope"}, nil, 2, "usage.invalid"},
		{"two inputs", []string{"--store", fresh(), "a", "b"}, nil, 2, "usage.invalid"},
		{"zero batch", []string{"--store", fresh(), "--batch", "0"}, good, 2, "config.invalid"},
		{"zero verify depth", []string{"--store", fresh(), "--verify-depth", "0"}, good, 2, "config.invalid"},
		{"bad synchronous", []string{"--store", fresh(), "--synchronous", "often"}, good, 2, "config.invalid"},
		{"raised line limit", []string{"--store", fresh(), "--max-line-bytes", "999999999"}, good, 2, "config.invalid"},
		{"missing input file", []string{"--store", fresh(), filepath.Join(dir, "none.ndjson")}, nil, 4, "io.failed"},
		{"tampered", []string{"--store", fresh()}, tampered, 1, "chain.hash_mismatch"},
		{"malformed", []string{"--store", fresh()}, append(bytes.Clone(good[:200]), '\n'), 3, "input.malformed_json"},
		{"not canonical", []string{"--store", fresh()}, bytes.Replace(good, []byte(`{"created_at"`), []byte(`{ "created_at"`), 1), 3, "input.not_canonical"},
		{"unsealed input", []string{"--store", fresh()}, unsealed, 3, "input.wrong_kind"},
		{"missing directory", []string{"--store", filepath.Join(dir, "no", "arxi.db")}, good, 4, "store.io"},
		{"not a store", []string{"--store", notDB}, good, 4, "store.io"},
		{"newer schema", []string{"--store", newer}, good, 4, "store.schema_unsupported"},
		{"segment: no subcommand", []string{"segment"}, nil, 2, "usage.invalid"},
		{"segment: unknown", []string{"segment", "frob"}, nil, 2, "usage.invalid"},
		{"segment open: no recorder", []string{"segment", "open", "--store", fresh()}, nil, 2, "usage.invalid"},
		{"segment seal: none open", []string{"segment", "seal", "--store", fresh()}, nil, 2, "segment.none_open"},
		{"segment status: no store", []string{"segment", "status", "--store", filepath.Join(dir, "none.db")}, nil, 4, "store.io"},
		{"segment list: no store", []string{"segment", "list", "--store", filepath.Join(dir, "none.db")}, nil, 4, "store.io"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runAppend(t, tc.stdin, tc.args...)
			clitest.CheckExit(t, code, stderr, tc.code, tc.err)
		})
	}
}

// TestContinuity runs the store-level continuity errors through the CLI:
// exit 1, the code, the line, and how far the store is committed.
func TestContinuity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arxi.db")
	open := storetest.Seal(t, sealing.Config{}, storetest.Events(0, 5), false)
	if code, _, stderr := runAppend(t, open, "--store", path); code != 0 {
		t.Fatal(stderr)
	}
	other := storetest.Seal(t, sealing.Config{}, storetest.Events(10, 12), false)
	code, stdout, stderr := runAppend(t, other, "--store", path)
	if code != 1 || !strings.Contains(stderr, "line 1: segment.already_open") || stdout != "" {
		t.Errorf("second open segment: exit %d, %s", code, stderr)
	}
	// Appending the same open stream again: the genesis continues the open
	// segment, the first envelope does not continue its head.
	// The announcement and the envelope were one batch: nothing is kept.
	code, _, stderr = runAppend(t, open, "--store", path)
	if code != 1 || !strings.Contains(stderr, "line 2: chain.discontinuity") ||
		!strings.Contains(stderr, "hint: nothing from this input was written") {
		t.Errorf("repeated envelopes: exit %d, %s", code, stderr)
	}
	// A bad record in the second batch: the first batch stays, with its
	// receipts, and the hint names it.
	path2 := filepath.Join(t.TempDir(), "arxi.db")
	lines := storetest.Lines(open)
	if !strings.Contains(lines[5], `"sequence":4`) {
		t.Fatalf("line 6 is not envelope 4: %s", lines[5])
	}
	lines[5] = strings.Replace(lines[5], `"sequence":4`, `"sequence":5`, 1)
	code, stdout, stderr = runAppend(t, []byte(strings.Join(lines, "")), "--store", path2, "--batch", "2")
	if code != 1 || strings.Count(stdout, `"record":"receipt"`) != 2 ||
		!strings.Contains(stderr, "line 6: chain.discontinuity") || !strings.Contains(stderr, "committed through input line 3 (segment ") ||
		!strings.Contains(stderr, " sequence 2)") {
		t.Errorf("bad second batch: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arxi.db")
	w, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Now()
	for _, args := range [][]string{{"--store", path}, {"segment", "open", "--store", path, "--recorder-id", "r"}, {"segment", "seal", "--store", path}} {
		code, _, stderr := runAppend(t, nil, args...)
		if code != 4 || !strings.Contains(stderr, "store.locked") || !strings.Contains(stderr, "hint: a store has one writer") {
			t.Errorf("%v while locked: exit %d, %s", args, code, stderr)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a locked store took %v to fail; it must fail at once", d)
	}
	// Readers are not blocked.
	code, _, stderr := runAppend(t, nil, "segment", "list", "--store", path)
	if code != 0 {
		t.Errorf("list while locked: exit %d, %s", code, stderr)
	}
}

// TestSegmentCommands checks the operator commands' output and exit
// codes with a fixed clock.
func TestSegmentCommands(t *testing.T) {
	defer func(c func() time.Time) { clock = c }(clock)
	clock = func() time.Time { return time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC) }
	path := filepath.Join(t.TempDir(), "arxi.db")
	code, stdout, stderr := runAppend(t, nil, "segment", "open", "--store", path, "--recorder-id", "ops", "--json")
	if code != 0 || !strings.Contains(stdout, `"created_at":"2026-11-23T08:00:00.000000000Z","envelope_count":0`) ||
		!strings.Contains(stdout, `"predecessor_segment_id":null,"record":"segment","recorder_id":"ops","seal_reason":null,"sealed_at":null`) {
		t.Fatalf("open: exit %d, %s %s", code, stdout, stderr)
	}
	code, _, stderr = runAppend(t, nil, "segment", "open", "--store", path, "--recorder-id", "ops")
	if code != 1 || !strings.Contains(stderr, "segment.already_open") {
		t.Errorf("second open: exit %d, %s", code, stderr)
	}
	code, stdout, _ = runAppend(t, nil, "segment", "status", "--store", path)
	if code != 0 || !strings.Contains(stdout, "state\topen") || !strings.Contains(stdout, "recorder\tops") {
		t.Errorf("status: exit %d, %s", code, stdout)
	}
	clock = func() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) }
	code, stdout, _ = runAppend(t, nil, "segment", "seal", "--store", path, "--json")
	if code != 0 || !strings.Contains(stdout, `"seal_reason":"manual","sealed_at":"2026-11-23T09:00:00.000000000Z"`) {
		t.Errorf("seal: exit %d, %s", code, stdout)
	}
	code, _, stderr = runAppend(t, nil, "segment", "status", "--store", path)
	if code != 2 || !strings.Contains(stderr, "segment.none_open") {
		t.Errorf("status with nothing open: exit %d, %s", code, stderr)
	}
	code, stdout, _ = runAppend(t, nil, "segment", "list", "--store", path, "--json")
	if code != 0 || strings.Count(stdout, "\n") != 1 || !strings.Contains(stdout, `"state":"sealed"`) {
		t.Errorf("list: exit %d, %s", code, stdout)
	}
}

// TestCorruptRow changes a row with SQL behind the store's back: the next
// writer refuses to open it, naming the row, exit 1.
func TestCorruptRow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arxi.db")
	in := storetest.Seal(t, sealing.Config{}, storetest.Events(0, 6), false)
	if code, _, stderr := runAppend(t, in, "--store", path); code != 0 {
		t.Fatal(stderr)
	}
	clitest.ExecSQL(t, path, `UPDATE envelopes SET payload = replace(payload, '"i":4', '"i":5') WHERE position = 5`)
	code, stdout, stderr := runAppend(t, nil, "--store", path)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "store.corrupt") || !strings.Contains(stderr, "envelopes row 5") {
		t.Errorf("corrupt row: exit %d, %s", code, stderr)
	}
	// A shallow verification does not reach row 5.
	if code, _, stderr := runAppend(t, nil, "--store", path, "--verify-depth", "1"); code != 0 {
		t.Errorf("--verify-depth 1: exit %d, %s", code, stderr)
	}
}
