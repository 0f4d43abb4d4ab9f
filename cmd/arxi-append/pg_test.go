package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/postgres"
	"arxi.dev/arxi/pkg/store/storetest"
)

var (
	pgOnce sync.Once
	pgDB   string
	pgLogs atomic.Int64
)

// pgLog returns the URL of a new log in the package's database on the
// run's shared PostgreSQL server.
func pgLog(t *testing.T) string {
	t.Helper()
	s := pgtest.Shared(t)
	pgOnce.Do(func() { pgDB = s.NewDatabase(t) })
	return pgtest.LogURL(pgDB, fmt.Sprintf("log-%d", pgLogs.Add(1)))
}

// TestPostgres runs the append, segment, log and doctor commands against a
// log of a real server, and copies a SQLite store into it: the same
// stream back, byte for byte.
func TestPostgres(t *testing.T) {
	t.Parallel()
	url := pgLog(t)
	in := storetest.Seal(t, sealing.Config{MaxEnvelopes: 7}, storetest.Events(0, 20), false)
	code, stdout, stderr := runAppend(t, in, "--store", url, "--batch", "3")
	if code != 0 || strings.Count(stdout, `"record":"receipt"`) != 20 {
		t.Fatalf("append: exit %d, %d receipts, %s", code, strings.Count(stdout, "\n"), stderr)
	}
	if got := dumpStore(t, url); !bytes.Equal(got, in) {
		t.Error("the log does not hold the stream")
	}
	// The same stream through an SQLite store first.
	path := filepath.Join(t.TempDir(), "arxi.db")
	if code, _, stderr := runAppend(t, in, "--store", path); code != 0 {
		t.Fatal(stderr)
	}
	copied := pgLog(t)
	if code, _, stderr := runAppend(t, dumpStore(t, path), "--store", copied); code != 0 {
		t.Fatal(stderr)
	}
	if !bytes.Equal(dumpStore(t, copied), in) {
		t.Error("a store copied from SQLite differs")
	}

	code, stdout, stderr = runAppend(t, nil, "segment", "list", "--store", url)
	if code != 0 || strings.Count(stdout, "sealed") != 2 || !regexp.MustCompile(`\sopen\s`).MatchString(stdout) {
		t.Errorf("segment list: exit %d, %s %s", code, stdout, stderr)
	}
	code, stdout, _ = runAppend(t, nil, "segment", "seal", "--store", url, "--json")
	if code != 0 || !strings.Contains(stdout, `"seal_reason":"manual"`) {
		t.Errorf("segment seal: exit %d, %s", code, stdout)
	}

	code, stdout, stderr = runAppend(t, nil, "doctor", "--store", url)
	for _, want := range []string{`backend +postgres, schema version 4\n`, `writer +free\n`, `segments +3 \(3 sealed, 0 open\)\n`,
		`envelopes +20 decoded`, `database_bytes +\d`, `postings_table_bytes +\d`, `verdict +healthy\n`} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("doctor: exit %d, no %s in\n%s%s", code, want, stdout, stderr)
		}
	}
	code, stdout, _ = runAppend(t, nil, "doctor", "--store", url, "--json")
	if code != 0 || !strings.Contains(stdout, `"backend":"postgres"`) || !strings.Contains(stdout, `"healthy":true`) || !strings.Contains(stdout, `"server_version":"`) {
		t.Errorf("doctor --json: exit %d, %s", code, stdout)
	}

	name := url[strings.LastIndex(url, "log=")+4:]
	code, stdout, stderr = runAppend(t, nil, "log", "list", "--store", pgDB, "--json")
	want := fmt.Sprintf(`"envelope_count":20,"log":%q,"open_segment_id":null,"record":"log","segment_count":3,"writer":"free"}`, name)
	if code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("log list: exit %d, no %s in\n%s%s", code, want, stdout, stderr)
	}
	code, stdout, _ = runAppend(t, nil, "log", "list", "--store", pgDB)
	if code != 0 || !strings.HasPrefix(stdout, "LOG ") || !strings.Contains(stdout, name+" ") {
		t.Errorf("log list: exit %d, %s", code, stdout)
	}
	code, _, stderr = runAppend(t, nil, "log", "list", "--store", path)
	clitest.CheckExit(t, code, stderr, 2, "usage.invalid")

	// Rename the event types of the postings: doctor names the label the
	// index lost, exit 1; renamed back, the log is healthy again.
	const eventTypes = "UPDATE arxi.postings SET value = %s WHERE log_id = (SELECT id FROM arxi.logs WHERE name = $1) AND kind = 1"
	pgtest.Shared(t).Exec(t, pgDB, fmt.Sprintf(eventTypes, "value || '-x'"), name)
	code, stdout, stderr = runAppend(t, nil, "doctor", "--store", url)
	if code != 1 || !regexp.MustCompile(`verdict +corrupt: `).MatchString(stdout) || !strings.Contains(stderr, "postings of event_type") {
		t.Errorf("doctor of damaged postings: exit %d, %s %s", code, stdout, stderr)
	}
	pgtest.Shared(t).Exec(t, pgDB, fmt.Sprintf(eventTypes, "left(value, -2)"), name)
	if code, stdout, stderr = runAppend(t, nil, "doctor", "--store", url); code != 0 {
		t.Errorf("doctor of repaired postings: exit %d, %s %s", code, stdout, stderr)
	}

	// Damage a row with SQL: doctor and the next writer name it, exit 1.
	pgtest.Shared(t).Exec(t, pgDB, `UPDATE arxi.envelopes SET payload = convert_to(replace(convert_from(payload, 'UTF8'), '"i":19', '"i":5'), 'UTF8')
		WHERE log_id = (SELECT id FROM arxi.logs WHERE name = $1) AND position = 20`, name)
	code, stdout, stderr = runAppend(t, nil, "doctor", "--store", url)
	if code != 1 || !regexp.MustCompile(`verdict +corrupt: `).MatchString(stdout) || !strings.Contains(stderr, "store.corrupt") || !strings.Contains(stderr, "envelopes row 20") {
		t.Errorf("doctor of a damaged log: exit %d, %s %s", code, stdout, stderr)
	}
	code, _, stderr = runAppend(t, nil, "--store", url)
	if code != 1 || !strings.Contains(stderr, "envelopes row 20") {
		t.Errorf("writer of a damaged log: exit %d, %s", code, stderr)
	}
}

// TestPostgresTwoWriters: a writer holds its log while it waits for
// input; a second arxi-append process on the same log fails at once with
// store.locked, one on another log of the same database appends; once the
// first is gone the log is free.
func TestPostgresTwoWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("runs subprocesses")
	}
	url, other := pgLog(t), pgLog(t)
	first := childCmd(nil, "--store", url)
	stdin, err := first.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	waitWriter(t, url, true)

	in := storetest.Seal(t, sealing.Config{}, storetest.Events(0, 3), false)
	start := time.Now()
	_, code, stderr := child(t, in, nil, 0, false, "--store", url)
	if code != 4 || !strings.Contains(stderr, "store.locked: another writer holds log ") || !strings.Contains(stderr, "server process ") {
		t.Errorf("second writer: exit %d, %s", code, stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the second writer took %v to fail; it must fail at once", d)
	}
	if rs, code, stderr := child(t, in, nil, 0, false, "--store", other); code != 0 || len(rs) != 3 {
		t.Errorf("writer of another log: exit %d, %d receipts, %s", code, len(rs), stderr)
	}
	// Readers are not blocked.
	if code, _, stderr := runAppend(t, nil, "segment", "list", "--store", other); code != 0 {
		t.Errorf("reader while locked: exit %d, %s", code, stderr)
	}
	stdin.Write(in)
	stdin.Close()
	if err := first.Wait(); err != nil {
		t.Fatalf("first writer: %v %s", err, firstErr.String())
	}
	waitWriter(t, url, false)
	if rs, code, stderr := child(t, nil, nil, 0, false, "--store", url); code != 0 {
		t.Errorf("writer after the first: exit %d, %d receipts, %s", code, len(rs), stderr)
	}
}

// waitWriter waits until log list says whether a writer holds url's log.
func waitWriter(t *testing.T, url string, held bool) {
	t.Helper()
	u, _ := postgres.ParseURL(url)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		logs, err := postgres.Logs(ctx, url)
		if err != nil {
			continue
		}
		for _, l := range logs {
			if l.Name == u.Log && l.Writer == held {
				return
			}
		}
	}
	t.Fatalf("log %s: writer held never became %v", u.Log, held)
}

// TestPostgresKill kills arxi-append with SIGKILL at random moments while
// it appends to a log: after each kill the log opens, verifies, is a
// prefix of the stream holding every receipted envelope and at most one
// batch more, and the rest completes it (TestKill on a server).
func TestPostgresKill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs arxi-append many times")
	}
	const batch = 40
	full := storetest.Seal(t, sealing.Config{MaxEnvelopes: 300}, storetest.Events(0, 1500), true)
	position := map[string]int{}
	for i, e := range storetest.Envelopes(t, full) {
		r := store.Receipt{SegmentID: e.SegmentID, Sequence: e.Sequence, EnvelopeID: e.EnvelopeID, ChainHash: e.ChainHash}
		position[string(r.AppendJCS(nil))+"\n"] = i + 1
	}
	began := time.Now()
	rs, code, stderr, work := timedChild(t, full, nil, 0, false, "--store", pgLog(t), "--batch", strconv.Itoa(batch))
	whole := time.Since(began)
	if code != 0 || len(rs) != len(position) {
		t.Fatal(stderr)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("a whole run takes %v, %v after the first receipt; seed %d", whole, work, seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	kills := 0
	for deadline := time.Now().Add(pgKillBudget); kills < 3 || time.Now().Before(deadline); {
		kills += killRound(t, rng, full, position, pgLog(t), batch, &whole, &work, time.Now().Add(pgKillBudget))
	}
	t.Logf("%d kills", kills)
}

// pgKillBudget is TestKill's budget, shortened: the SQLite test covers
// the same paths at length.
const pgKillBudget = killBudget / 5

// TestPostgresServerStop stops the server at once (as a crash) while
// arxi-append writes: it fails with store.io, exit 4; after the server
// recovers the log opens, verifies and holds every receipted envelope and
// at most one batch more, and the rest of the stream completes it.
func TestPostgresServerStop(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs a private server")
	}
	srv := pgtest.New(t)
	url := pgtest.LogURL(srv.NewDatabase(t), "crash")
	const batch = 100
	full := storetest.Seal(t, sealing.Config{MaxEnvelopes: 1000}, storetest.Events(0, 6000), true)
	cmd := childCmd(nil, "--store", url, "--batch", strconv.Itoa(batch))
	cmd.Stdin = bytes.NewReader(full)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var receipts bytes.Buffer
	buf := make([]byte, 64<<10)
	stopped := false
	for {
		n, err := out.Read(buf)
		receipts.Write(buf[:n])
		if !stopped && bytes.Count(receipts.Bytes(), []byte("\n")) >= 3*batch {
			if err := srv.Stop(true); err != nil {
				t.Fatal(err)
			}
			stopped = true
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if !stopped {
		t.Fatalf("arxi-append finished (exit %d) before the server was stopped", code)
	}
	if code != 4 || !strings.Contains(errb.String(), "store.io") {
		t.Fatalf("exit %d, want 4 store.io: %s", code, errb.String())
	}
	receipted := strings.Count(receipts.String(), "\n")
	if receipted%batch != 0 {
		t.Errorf("%d receipts: not whole batches", receipted)
	}
	srv.Restart(t)
	dump := dumpStore(t, url)
	held := strings.Count(string(dump), `"record":"envelope"`)
	if !bytes.HasPrefix(full, dump) || held < receipted || held > receipted+batch {
		t.Fatalf("after the crash the log holds %d envelopes (a prefix: %v); %d were receipted", held, bytes.HasPrefix(full, dump), receipted)
	}
	t.Logf("receipted %d, held %d", receipted, held)
	if _, code, stderr := child(t, rest(full, dump), nil, 0, false, "--store", url); code != 0 {
		t.Fatalf("rest: exit %d: %s", code, stderr)
	}
	if !bytes.Equal(dumpStore(t, url), full) {
		t.Error("the log is not the whole stream")
	}
}

// TestPostgresSecrets: a password never comes from the URL, and no
// error prints one, whether the server refuses it or cannot be reached;
// PGPASSWORD and a password file both work.
func TestPostgresSecrets(t *testing.T) {
	srv := pgtest.Shared(t)
	const right, wrong = "correct-horse-battery", "Tr0ub4dor-wrong"
	user := srv.EnsurePasswordUser(t, right)
	dbURL := srv.NewDatabase(t)
	db := dbURL[strings.LastIndex(dbURL, "/")+1 : strings.Index(dbURL, "?")]
	srv.Exec(t, dbURL, "ALTER DATABASE "+db+" OWNER TO "+user)
	userURL := pgtest.LogURL(srv.UserURL(user, db), "secrets")
	in := storetest.Seal(t, sealing.Config{}, storetest.Events(0, 3), false)
	noSecret := func(t *testing.T, out string) {
		t.Helper()
		for _, s := range []string{right, wrong} {
			if strings.Contains(out, s) {
				t.Errorf("output shows a password: %s", out)
			}
		}
	}
	withPassword := strings.Replace(userURL, "postgres://"+user+"@", "postgres://"+user+":"+wrong+"@", 1)
	for _, args := range [][]string{{"--store", withPassword}, {"doctor", "--store", withPassword}, {"segment", "list", "--store", withPassword},
		{"--store", userURL + "&password=" + wrong}, {"--store", strings.Replace(withPassword, "?", "?x=%zz&", 1)}} {
		code, stdout, stderr := runAppend(t, in, args...)
		noSecret(t, stdout+stderr)
		if code != 2 || !strings.Contains(stderr, "config.invalid") {
			t.Errorf("%v: exit %d, %s", args[:len(args)-1], code, stderr)
		}
	}

	t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("PGPASSWORD", wrong)
	code, _, stderr := runAppend(t, in, "--store", userURL, "--error-format", "json")
	noSecret(t, stderr)
	if code != 4 || !strings.Contains(stderr, "the server refused the login") {
		t.Errorf("wrong password: exit %d, %s", code, stderr)
	}
	unreachable := strings.Replace(userURL, "host=", "host=%2Fnonexistent&x=", 1)
	code, _, stderr = runAppend(t, in, "--store", unreachable)
	noSecret(t, stderr)
	if code != 4 || !strings.Contains(stderr, "cannot reach the server") {
		t.Errorf("no server: exit %d, %s", code, stderr)
	}

	t.Setenv("PGPASSWORD", right)
	code, _, stderr = runAppend(t, in, "--store", userURL)
	if code != 0 {
		t.Fatalf("PGPASSWORD: exit %d, %s", code, stderr)
	}
	os.Unsetenv("PGPASSWORD")
	pass := filepath.Join(t.TempDir(), "pgpass")
	os.WriteFile(pass, []byte("*:*:*:"+user+":"+right+"\n"), 0o600)
	t.Setenv("PGPASSFILE", pass)
	code, stdout, stderr := runAppend(t, nil, "segment", "status", "--store", userURL)
	if code != 0 || !strings.Contains(stdout, "open") {
		t.Errorf("password file: exit %d, %s %s", code, stdout, stderr)
	}
}
