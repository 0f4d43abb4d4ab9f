// Package clitest holds what the commands' Go tests share: running their
// testscript scripts, checking an exit status and the error a command
// reported.
package clitest

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/contracttest"
	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite" // the "sqlite" driver of ExecSQL
)

// Scripts runs the calling command's testdata/*.txtar scripts with
// $TESTDATA set to the repository's testdata directory; p.Setup, when set,
// runs after that. Commands are in cmd/NAME, so the directory is
// ../../testdata. Besides p.Cmds, scripts have
//
//	sql DB STATEMENT   run SQL on a store file directly (see ExecSQL)
//	mkfifo PATH...     make named pipes (unix only: guard with [!unix] skip)
//	perm PATH MODE     check a file's permission bits (octal, as ls shows them)
//	events N FILE      write N unsealed events, one per second of claimed_at
//	validate KIND FILE check FILE (or stdout, stderr) against the committed
//	                   record schema docs/generated/schemas/KIND.schema.json:
//	                   each NDJSON line, or the one JSON document FILE holds
//	                   when it spans lines; KIND record picks each line's
//	                   schema by its "record" key (SPEC §4), unsealed without one
func Scripts(t *testing.T, p testscript.Params) {
	t.Helper()
	testdata, err := filepath.Abs("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	contract := filepath.Join(testdata, "..", "docs", "generated")
	if p.Dir == "" {
		p.Dir = "testdata"
	}
	setUmask() // scripts check the modes of the files they make
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		env.Setenv("TESTDATA", testdata)
		if setup != nil {
			return setup(env)
		}
		return nil
	}
	cmds := map[string]func(*testscript.TestScript, bool, []string){
		"sql": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: sql DB STATEMENT")
			}
			ts.Check(execSQL(ts.MkAbs(args[0]), args[1]))
		},
		"mkfifo": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) == 0 {
				ts.Fatalf("usage: mkfifo PATH...")
			}
			for _, a := range args {
				if err := mkfifo(ts.MkAbs(a)); err != nil {
					ts.Fatalf("mkfifo: %v (guard the script with [!unix] skip)", err)
				}
			}
		},
		"perm": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 2 {
				ts.Fatalf("usage: perm PATH MODE")
			}
			st, err := os.Stat(ts.MkAbs(args[0]))
			ts.Check(err)
			want, err := strconv.ParseUint(args[1], 8, 32)
			ts.Check(err)
			if got := st.Mode().Perm(); (got == fs.FileMode(want)) == neg {
				ts.Fatalf("%s has mode %04o, want %s%04o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
			}
		},
		"events": func(ts *testscript.TestScript, neg bool, args []string) {
			n, err := strconv.Atoi(firstOr(args, ""))
			if neg || len(args) != 2 || err != nil {
				ts.Fatalf("usage: events N FILE")
			}
			ts.Check(os.WriteFile(ts.MkAbs(args[1]), Events(n), 0o644))
		},
		"validate": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 2 {
				ts.Fatalf("usage: validate KIND FILE")
			}
			errs, err := validate(contract, args[0], []byte(ts.ReadFile(args[1])))
			ts.Check(err)
			switch {
			case !neg && len(errs) > 0:
				ts.Fatalf("%s breaks schemas/%s.schema.json:\n%v", args[1], args[0], errors.Join(errs...))
			case neg && len(errs) == 0:
				ts.Fatalf("%s validates against schemas/%s.schema.json", args[1], args[0])
			}
		},
	}
	for name, f := range p.Cmds {
		cmds[name] = f
	}
	p.Cmds = cmds
	testscript.Run(t, p)
}

// validate checks data against the record schema kind of the contract in
// dir ("record": each line's own): a JSON document spanning lines as one,
// anything else line by line.
func validate(dir, kind string, data []byte) ([]error, error) {
	c, err := contracttest.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	if kind == "record" {
		kind = ""
	} else if c.Record(kind) == nil {
		return nil, fmt.Errorf("no schema %s in %s", kind, dir)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return []error{errors.New("empty: nothing to validate")}, nil
	}
	if doc := bytes.TrimSpace(data); bytes.Contains(doc, []byte("\n")) && json.Valid(doc) {
		data = compact(doc)
	}
	return c.Lines(kind, data), nil
}

// compact is a JSON document on one line.
func compact(doc []byte) []byte {
	var b bytes.Buffer
	json.Compact(&b, doc)
	return b.Bytes()
}

func firstOr(args []string, def string) string {
	if len(args) > 0 {
		return args[0]
	}
	return def
}

// Events returns n small unsealed events, claimed a second apart.
func Events(n int) []byte {
	var b bytes.Buffer
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := range n {
		fmt.Fprintf(&b, `{"actor_id":"a","adapter_id":"x","claimed_at":"%s","environment_id":"e","event_type":"e","payload":%d}`+"\n",
			start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i)
	}
	return b.Bytes()
}

// ExecSQL runs statement on the SQLite file at path directly, behind the
// store's back (how tests corrupt a store), failing t on any error.
func ExecSQL(t testing.TB, path, statement string) {
	t.Helper()
	if err := execSQL(path, statement); err != nil {
		t.Fatal(err)
	}
}

func execSQL(path, statement string) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(statement)
	return err
}

// CheckExit fails t unless code is want, stderr contains errCode (when it
// is not empty), and a successful run wrote nothing to stderr.
func CheckExit(t testing.TB, code int, stderr string, want int, errCode string) {
	t.Helper()
	if code != want {
		t.Errorf("exit = %d, want %d; stderr: %s", code, want, stderr)
	}
	if errCode != "" && !strings.Contains(stderr, errCode) {
		t.Errorf("stderr = %q, want %s", stderr, errCode)
	}
	if want == 0 && stderr != "" {
		t.Errorf("stderr on success: %q", stderr)
	}
}
