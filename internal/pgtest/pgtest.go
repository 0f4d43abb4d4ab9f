// Package pgtest runs throwaway PostgreSQL servers for tests and
// benchmarks: a real server from the machine's PostgreSQL binaries
// (Debian's postgresql package), never a mock.
//
// # The shared server
//
// Shared returns the server of the current `go test` run. The first test
// binary of the run that asks creates it — initdb and pg_ctl start on a
// directory in /dev/shm (or the temp directory), listening only on a unix
// socket there — and every other package of the run joins it; each test
// gets databases of its own with NewDatabase. A reaper process started
// with the server stops it and removes its directory once the `go test`
// process (the test binaries' parent) has exited, so nothing is left
// running however the run ends. Joining costs nothing; the first start
// about a second.
//
// # Private servers
//
// New starts a server of the test's own (a copy of the run's freshly
// initialised data directory, so about a tenth of a second), for tests
// that stop or break it; it is stopped when the test ends.
//
// When the process runs as root, the servers run as the postgres user, as
// PostgreSQL requires. Without the server binaries, every test that asks
// for a server fails, saying what to install: they are never skipped.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Install is what to install when the server binaries are missing.
const Install = "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's postgresql package (apt-get install postgresql) or put its bin directory on PATH"

// Server is a running PostgreSQL server on a unix socket.
type Server struct {
	Dir    string // the server's directory: data/, sock/, log
	Socket string // the directory of its unix socket
	Port   int
	shared bool
	remove bool // the reaper removes Dir
	run    *runner
}

// PasswordUser is a role that must authenticate with a password
// (scram-sha-256), for tests of how passwords are given and hidden; every
// other role is trusted on the socket.
const PasswordUser = "arxi_password"

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
	dbSeq      atomic.Int64
)

// Shared returns the run's shared server, starting it if no package of
// the run has yet.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = joinShared() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// New starts a private server, stopped when t ends (with its directory
// removed). Its data directory is a copy of the run's template, so it
// holds the same roles and settings as the shared one.
func New(t testing.TB) *Server {
	t.Helper()
	return NewIn(t, base())
}

// NewIn is New with the server's directory under parent; benchmarks keep
// it on a disk so that fsync costs what it costs (New uses /dev/shm when
// it can, where fsync is free).
func NewIn(t testing.TB, parent string) *Server {
	t.Helper()
	dir, err := os.MkdirTemp(parent, "arxi-pgtest-private-")
	if err != nil {
		t.Fatal(err)
	}
	s := startAt(t, dir, true)
	t.Cleanup(func() {
		s.Stop(true)
		os.RemoveAll(dir)
	})
	return s
}

// Persistent starts a server on dir, creating it from the run's template
// when it holds no data directory yet, and stops it (keeping dir) when t
// ends or the process exits: for benchmark data built once and kept.
func Persistent(t testing.TB, dir string) *Server {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := startAt(t, dir, false)
	t.Cleanup(func() { s.Stop(false) })
	return s
}

func startAt(t testing.TB, dir string, remove bool) *Server {
	t.Helper()
	r, err := newRunner()
	if err != nil {
		t.Fatal(err)
	}
	sh := Shared(t)
	s := &Server{Dir: dir, Socket: filepath.Join(dir, "sock"), Port: sh.Port, run: r, remove: remove}
	if err := r.chown(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
		os.RemoveAll(filepath.Join(dir, "data"))
		if err := r.copyDir(filepath.Join(sh.Dir, "template"), filepath.Join(dir, "data")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.start(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	return s
}

// base is where servers live: /dev/shm when it is there (fsync is free on
// a tmpfs, so durable settings cost tests nothing), else the temp
// directory.
func base() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() && syscall.Access("/dev/shm", 7) == nil {
		return "/dev/shm"
	}
	return os.TempDir()
}

// joinShared finds or starts the run's shared server, under a lock file
// so that the run's test binaries agree on one.
func joinShared() (*Server, error) {
	r, err := newRunner()
	if err != nil {
		return nil, err
	}
	owner := os.Getppid()
	sweep(owner)
	dir := filepath.Join(base(), fmt.Sprintf("arxi-pgtest-%d", owner))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("pgtest: lock %s: %w", dir, err)
	}
	s := &Server{Dir: dir, Socket: filepath.Join(dir, "sock"), Port: 20000 + owner%20000, shared: true, remove: true, run: r}
	if s.ping() == nil {
		return s, nil
	}
	if err := r.chown(dir); err != nil {
		return nil, err
	}
	tmpl := filepath.Join(dir, "template")
	if _, err := os.Stat(filepath.Join(tmpl, "PG_VERSION")); err != nil {
		os.RemoveAll(tmpl)
		if err := r.initdb(tmpl); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		os.RemoveAll(data)
		if err := r.copyDir(tmpl, data); err != nil {
			return nil, err
		}
	}
	if err := s.start(owner); err != nil {
		return nil, err
	}
	return s, nil
}

// sweep removes the directories of earlier runs whose go test process is
// gone and whose reaper did not finish (killed with it).
func sweep(self int) {
	dirs, _ := filepath.Glob(filepath.Join(base(), "arxi-pgtest-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "arxi-pgtest-"))
		if err != nil || pid == self || alive(pid) {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])); err == nil && alive(p) {
				syscall.Kill(p, syscall.SIGQUIT)
			}
		}
		os.RemoveAll(d)
	}
}

func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// start starts the server on its data directory and a reaper that stops
// it once process owner has exited (and removes its directory, unless it
// is to be kept).
func (s *Server) start(owner int) error {
	sock := s.Socket
	if err := os.MkdirAll(sock, 0o755); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if err := s.run.chown(sock); err != nil {
		return err
	}
	opts := fmt.Sprintf("-k %s -p %d -c listen_addresses= -c fsync=on -c synchronous_commit=on -c max_connections=300 -c shared_buffers=32MB", sock, s.Port)
	if err := s.run.pgctl("-D", filepath.Join(s.Dir, "data"), "-l", filepath.Join(s.Dir, "log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.Dir, "log"))
		return fmt.Errorf("pgtest: start the server: %w\n%s", err, log)
	}
	reaper := exec.Command("/bin/sh", "-c", `
while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
pid=$(head -n 1 "$2/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
	kill -QUIT "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
fi
[ "$3" = remove ] && rm -rf "$2"`, "reaper", strconv.Itoa(owner), s.Dir, map[bool]string{true: "remove", false: "keep"}[s.remove])
	reaper.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := reaper.Start(); err != nil {
		return fmt.Errorf("pgtest: start the reaper: %w", err)
	}
	go reaper.Wait()
	return s.ping()
}

// Stop stops the server: immediate is an immediate shutdown (as a
// crash: the next start recovers from the write-ahead log), otherwise a
// fast one. Stopping the shared server is an error in the test.
func (s *Server) Stop(immediate bool) error {
	if s.shared {
		return errors.New("pgtest: the shared server is not stopped by tests")
	}
	mode := "fast"
	if immediate {
		mode = "immediate"
	}
	return s.run.pgctl("-D", filepath.Join(s.Dir, "data"), "-m", mode, "-w", "stop")
}

// Restart starts a stopped private server again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

// URL returns the URL of database db on the server, as a user that the
// socket trusts, without a log parameter.
func (s *Server) URL(db string) string {
	return s.UserURL("postgres", db)
}

// UserURL is URL for another role.
func (s *Server) UserURL(role, db string) string {
	q := url.Values{"host": {s.Socket}, "port": {strconv.Itoa(s.Port)}}
	return (&url.URL{Scheme: "postgres", User: url.User(role), Host: "", Path: "/" + db, RawQuery: q.Encode()}).String()
}

// LogURL returns URL(db) with the log parameter set.
func LogURL(dbURL, log string) string {
	return dbURL + "&log=" + url.QueryEscape(log)
}

// NewDatabase creates a new, empty database and returns its URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), dbSeq.Add(1))
	s.Exec(t, s.URL("postgres"), "CREATE DATABASE "+name)
	return s.URL(name)
}

// NewLog returns the URL of log "test" in a new database of the run's
// shared server: a store of the test's own.
func NewLog(t testing.TB) string {
	t.Helper()
	return LogURL(Shared(t).NewDatabase(t), "test")
}

// Exec runs SQL statements on the database at dbURL directly, behind any
// store's back, failing t on an error.
func (s *Server) Exec(t testing.TB, dbURL string, sql string, args ...any) {
	t.Helper()
	if err := Exec(dbURL, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// Exec runs one SQL statement (with arguments) or several (without) on
// the database at dbURL.
func Exec(dbURL string, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	if len(args) == 0 {
		_, err = c.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
		return err
	}
	_, err = c.Exec(ctx, sql, args...)
	return err
}

// Value runs a query on the database at dbURL and returns its one value
// as text (cast it in the query).
func Value(dbURL string, sql string, args ...any) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	var v string
	err = c.QueryRow(ctx, sql, args...).Scan(&v)
	return v, err
}

// EnsurePasswordUser creates PasswordUser with password if it does not
// exist yet and returns it.
func (s *Server) EnsurePasswordUser(t testing.TB, password string) string {
	t.Helper()
	s.Exec(t, s.URL("postgres"), fmt.Sprintf(`DO $$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%[1]s') THEN CREATE ROLE %[1]s LOGIN; END IF;
		ALTER ROLE %[1]s PASSWORD '%[2]s'; END $$`, PasswordUser, password))
	return PasswordUser
}

func (s *Server) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

// debianBins is where Debian's postgresql packages put initdb, off PATH.
var debianBins = "/usr/lib/postgresql/*/bin/initdb"

// runner runs the server binaries, as the postgres user when root.
type runner struct {
	bin  string
	cred *syscall.Credential
}

func newRunner() (*runner, error) {
	r := &runner{}
	if p, err := exec.LookPath("initdb"); err == nil {
		r.bin = filepath.Dir(p)
	} else {
		found, _ := filepath.Glob(debianBins)
		if len(found) == 0 {
			return nil, errors.New(Install)
		}
		// The highest version: Glob sorts, and versions since 10 have two
		// digits.
		r.bin = filepath.Dir(found[len(found)-1])
	}
	if _, err := os.Stat(filepath.Join(r.bin, "pg_ctl")); err != nil {
		return nil, errors.New(Install)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, errors.New("pgtest: running as root, and PostgreSQL refuses to: there is no postgres user to run it as (Debian's postgresql package creates one)")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		r.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	return r, nil
}

func (r *runner) cmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(r.bin, name), args...)
	if r.cred != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	}
	c.Env = append(os.Environ(), "LC_ALL=C")
	c.Dir = "/"
	return c
}

func (r *runner) chown(path string) error {
	if r.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

func (r *runner) initdb(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if err := r.chown(dir); err != nil {
		return err
	}
	out, err := r.cmd("initdb", "-D", dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// The password role authenticates with a password; every other role is
	// trusted on the socket (the file is read top down).
	hba := fmt.Sprintf("local all %s scram-sha-256\nlocal all all trust\n", PasswordUser)
	if err := os.WriteFile(filepath.Join(dir, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return r.chown(filepath.Join(dir, "pg_hba.conf"))
}

func (r *runner) copyDir(from, to string) error {
	c := exec.Command("cp", "-a", from, to)
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: copy %s: %w\n%s", from, err, out)
	}
	return nil
}

func (r *runner) pgctl(args ...string) error {
	out, err := r.cmd("pg_ctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
