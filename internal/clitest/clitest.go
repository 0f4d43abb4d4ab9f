// Package clitest holds what the commands' Go tests share: running their
// testscript scripts, checking an exit status and the error a command
// reported.
package clitest

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite" // the "sqlite" driver of ExecSQL
)

// Scripts runs the calling command's testdata/*.txtar scripts with
// $TESTDATA set to the repository's testdata directory; p.Setup, when set,
// runs after that. Commands are in cmd/NAME, so the directory is
// ../../testdata. Besides p.Cmds, scripts have
//
//	sql DB STATEMENT   run SQL on a store file directly (see ExecSQL)
func Scripts(t *testing.T, p testscript.Params) {
	t.Helper()
	testdata, err := filepath.Abs("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	if p.Dir == "" {
		p.Dir = "testdata"
	}
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
	}
	for name, f := range p.Cmds {
		cmds[name] = f
	}
	p.Cmds = cmds
	testscript.Run(t, p)
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
