package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func query(t *testing.T, url, sql string) string {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var s string
	if err := c.QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestShared: databases of the shared server are separate and durable
// settings are on.
func TestShared(t *testing.T) {
	s := Shared(t)
	a, b := s.NewDatabase(t), s.NewDatabase(t)
	if a == b {
		t.Fatal("two databases with one URL")
	}
	s.Exec(t, a, "CREATE TABLE x (i int)")
	s.Exec(t, b, "CREATE TABLE x (i int); INSERT INTO x VALUES (1)")
	if got := query(t, a, "SELECT count(*)::text FROM x"); got != "0" {
		t.Errorf("database a sees b's row: %s", got)
	}
	for _, setting := range []string{"fsync", "synchronous_commit"} {
		if got := query(t, a, "SHOW "+setting); got != "on" {
			t.Errorf("%s = %s", setting, got)
		}
	}
	if Shared(t) != s {
		t.Error("Shared returned another server")
	}
}

// TestPrivate: a private server stops and restarts, keeping its data;
// the password role needs its password.
func TestPrivate(t *testing.T) {
	s := New(t)
	db := s.NewDatabase(t)
	s.Exec(t, db, "CREATE TABLE x (i int); INSERT INTO x VALUES (7)")
	if err := s.Stop(true); err != nil {
		t.Fatal(err)
	}
	if err := Exec(db, "SELECT 1"); err == nil {
		t.Fatal("a stopped server answers")
	}
	s.Restart(t)
	if got := query(t, db, "SELECT i::text FROM x"); got != "7" {
		t.Errorf("after a crash and restart: %s", got)
	}
	user := s.EnsurePasswordUser(t, "right")
	err := Exec(s.UserURL(user, "postgres"), "SELECT 1")
	if err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("password role without a password: %v", err)
	}
	if Shared(t).Stop(false) == nil {
		t.Error("the shared server stopped")
	}
}

// TestNoBinaries: without the server binaries the harness fails, saying
// what to install, rather than skipping.
func TestNoBinaries(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	defer func(g string) { debianBins = g }(debianBins)
	debianBins = "/nonexistent/*/bin/initdb"
	_, err := newRunner()
	if err == nil || err.Error() != Install || !strings.Contains(Install, "apt-get install postgresql") {
		t.Errorf("newRunner without binaries: %v", err)
	}
}
