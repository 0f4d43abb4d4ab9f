package sqlite

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sqlite3 "modernc.org/sqlite/lib"
)

// rawTestConn opens a connection on a new database with table t of
// untyped columns a and b.
func rawTestConn(t *testing.T) *conn {
	t.Helper()
	c, err := openConn("file:" + filepath.Join(t.TempDir(), "t.db") + "?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.close() })
	if err := c.execDirect(bg, "CREATE TABLE t (a, b)"); err != nil {
		t.Fatal(err)
	}
	return c
}

// driverCtx makes conn.exec leave a statement to the driver.
func driverCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// stored returns typeof and quote of every row's a and b, in rowid order.
func stored(t *testing.T, c *conn) []string {
	t.Helper()
	var out []string
	err := c.query(bg, "SELECT typeof(a) || ' ' || quote(a) || ', ' || typeof(b) || ' ' || quote(b) FROM t ORDER BY rowid", nil, func(v []driver.Value) error {
		s, err := asText(v[0])
		out = append(out, s)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRawHandle: the driver's connection is one raw knows, so the writer's
// statements take the fast path (a modernc.org/sqlite upgrade that moves
// the handle fails here, not silently in the benchmarks).
func TestRawHandle(t *testing.T) {
	c := rawTestConn(t)
	if c.raw == nil {
		t.Fatal("newRaw does not know this driver's connection: every statement goes through the driver")
	}
	q := "INSERT INTO t (a, b) VALUES (?, ?)"
	if _, err := c.exec(bg, q, int64(1), "x"); err != nil {
		t.Fatal(err)
	}
	if c.raw.stmts[q] == 0 {
		t.Errorf("%q ran through the driver, want raw", q)
	}
	if newRaw(nil) != nil {
		t.Error("newRaw(nil) is not nil")
	}
}

// TestRawMutex: while raw holds a connection its handle has no mutex (the
// driver opened it with one, which raw keeps), and close puts the mutex
// back before the driver closes the handle, so sqlite3_close frees it.
func TestRawMutex(t *testing.T) {
	c := rawTestConn(t)
	h := c.raw.handle()
	if c.raw.mutex == 0 {
		t.Fatal("the driver opened the connection without a mutex: raw has nothing to take out")
	}
	if h.Fmutex != 0 {
		t.Fatalf("the open connection's handle has mutex %#x, want none", h.Fmutex)
	}
	// Statements run by raw and by the driver both work without it.
	q := "INSERT INTO t (a, b) VALUES (?, ?)"
	if _, err := c.exec(bg, q, "a", int64(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.exec(driverCtx(t), q, "b", int64(2)); err != nil {
		t.Fatal(err)
	}
	if got, want := stored(t, c), []string{"text 'a', integer 1", "text 'b', integer 2"}; !cmp.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
	c.raw.close()
	if h.Fmutex != c.raw.mutex {
		t.Errorf("after raw.close the handle has mutex %#x, want its own %#x back", h.Fmutex, c.raw.mutex)
	}
}

// TestRawBinds: every value type binds as the driver binds it (the same
// storage class and value read back), text and blobs of every size
// among them.
func TestRawBinds(t *testing.T) {
	big := strings.Repeat("é", 300_000) // grows the buffer past its first size
	values := [][2]any{
		{int64(-5), int64(math.MaxInt64)},
		{int64(math.MinInt64), int64(0)},
		{1.5, math.Inf(-1)},
		{true, false},
		{"", "text ü\x00after nul"},
		{[]byte{}, []byte{0, 1, 2, 255}},
		{[]byte(nil), nil},
		{big, []byte(big)},
		{"a", []byte("b")},
	}
	q := "INSERT INTO t (a, b) VALUES (?, ?)"
	byRaw, byDriver := rawTestConn(t), rawTestConn(t)
	// The same values as args (the envelope rows' way), bound by raw and,
	// on a connection without it, by the driver.
	byArgs, byArgsDriver := rawTestConn(t), rawTestConn(t)
	r := byArgsDriver.raw
	byArgsDriver.raw = nil
	t.Cleanup(func() { byArgsDriver.raw = r }) // before the connection closes: it puts the mutex back
	dctx := driverCtx(t)
	for _, v := range values {
		if _, err := byRaw.exec(bg, q, v[0], v[1]); err != nil {
			t.Fatalf("raw %T %T: %v", v[0], v[1], err)
		}
		if _, err := byDriver.exec(dctx, q, v[0], v[1]); err != nil {
			t.Fatalf("driver %T %T: %v", v[0], v[1], err)
		}
		var args []arg
		for _, x := range v {
			a, err := argOf(x)
			if err != nil {
				t.Fatal(err)
			}
			args = append(args, a)
		}
		for _, c := range []*conn{byArgs, byArgsDriver} {
			if n, err := c.execArgs(q, args); n != 1 || err != nil {
				t.Fatalf("execArgs %T %T = %d, %v", v[0], v[1], n, err)
			}
		}
	}
	if _, err := argOf(int32(1)); err == nil {
		t.Error("argOf took an int32, which is not a driver value")
	}
	if byRaw.raw.cap > keepBytes {
		t.Errorf("the connection keeps a buffer of %d bytes after its large values, want at most %d", byRaw.raw.cap, keepBytes)
	}
	if byRaw.raw.stmts[q] == 0 || byDriver.raw.stmts[q] != 0 {
		t.Fatal("the statements did not take the paths the test means")
	}
	got, want := stored(t, byRaw), stored(t, byDriver)
	if len(got) != len(values) {
		t.Fatalf("%d rows, want %d", len(got), len(values))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("raw binds differ from the driver's (-driver +raw):\n%s", d)
	}
	for name, c := range map[string]*conn{"raw": byArgs, "driver": byArgsDriver} {
		if d := cmp.Diff(want, stored(t, c)); d != "" {
			t.Errorf("args bound by %s differ from the driver's (-driver +args):\n%s", name, d)
		}
	}
}

// TestRawResult: changes and the last rowid, as the driver reports them.
func TestRawResult(t *testing.T) {
	c := rawTestConn(t)
	id, err := c.execID(bg, "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)", int64(1), nil, int64(2), nil)
	if err != nil || id != 2 {
		t.Fatalf("execID = %d, %v; want 2", id, err)
	}
	n, err := c.exec(bg, "UPDATE t SET b = ? WHERE a >= ?", "x", int64(1))
	if err != nil || n != 2 {
		t.Fatalf("exec = %d, %v; want 2 rows changed", n, err)
	}
	// A statement that returns rows is stepped to its end.
	if _, err := c.exec(bg, "INSERT INTO t (a) VALUES (?) RETURNING a", int64(3)); err != nil {
		t.Fatal(err)
	}
	if got := len(stored(t, c)); got != 3 {
		t.Errorf("%d rows, want 3", got)
	}
}

// TestRawFallback: what raw cannot take runs through the driver, with the
// same result: several statements in one query, numbered parameters, and
// named ones, which the driver binds only by the names conn.exec never
// passes (so it refuses them rather than binding by position).
func TestRawFallback(t *testing.T) {
	c := rawTestConn(t)
	for _, tc := range []struct {
		q       string
		args    []any
		wantErr string
	}{
		{q: "INSERT INTO t (a, b) VALUES (?, ?); INSERT INTO t (a, b) VALUES (2, 'two')", args: []any{int64(1), "one"}},
		{q: "INSERT INTO t (a, b) VALUES (?2, ?1)", args: []any{"three", int64(3)}},
		{q: "INSERT INTO t (a, b) VALUES (:a, 'four')", args: []any{int64(4)}, wantErr: `missing named argument "a"`},
	} {
		_, err := c.exec(bg, tc.q, tc.args...)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: error %v, want %q", tc.q, err, tc.wantErr)
		}
		if c.raw.stmts[tc.q] != 0 {
			t.Errorf("%q ran raw, want the driver", tc.q)
		}
	}
	want := []string{"integer 1, text 'one'", "integer 2, text 'two'", "integer 3, text 'three'"}
	if d := cmp.Diff(want, stored(t, c)); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}
}

// TestRawErrors: a failing statement reports what the driver reports, as
// an error isConstraint and mapErr read, and stays usable.
func TestRawErrors(t *testing.T) {
	c := rawTestConn(t)
	if err := c.execDirect(bg, "CREATE UNIQUE INDEX t_a ON t (a)"); err != nil {
		t.Fatal(err)
	}
	q := "INSERT INTO t (a, b) VALUES (?, ?)"
	if _, err := c.exec(bg, q, "k", nil); err != nil {
		t.Fatal(err)
	}
	rawErr := func() error { _, err := c.exec(bg, q, "k", nil); return err }()
	drvErr := func() error { _, err := c.exec(driverCtx(t), q, "k", nil); return err }()
	if rawErr == nil || drvErr == nil {
		t.Fatalf("a duplicate was inserted: raw %v, driver %v", rawErr, drvErr)
	}
	var re *rawError
	if !errors.As(rawErr, &re) {
		t.Fatalf("raw error %T, want *rawError", rawErr)
	}
	if rawErr.Error() != drvErr.Error() {
		t.Errorf("raw error %q, driver error %q", rawErr, drvErr)
	}
	if re.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		t.Errorf("code %d, want SQLITE_CONSTRAINT_UNIQUE", re.Code())
	}
	if !isConstraint(rawErr, "t.a") || isConstraint(rawErr, "t.b") {
		t.Error("isConstraint does not read the raw error")
	}
	if _, err := c.exec(bg, q, "k2", nil); err != nil {
		t.Errorf("the statement after a failure: %v", err)
	}
	if _, err := c.exec(bg, q, "k3"); err == nil || !strings.Contains(err.Error(), "missing argument with index 2") {
		t.Errorf("one argument of two: %v", err)
	}
	if _, err := c.exec(bg, q, 1, nil); err == nil || !strings.Contains(err.Error(), "invalid driver.Value type int") {
		t.Errorf("an int: %v", err)
	}
	if _, err := c.exec(bg, q, strings.Repeat("x", 2*keepBytes), 1); err == nil || c.raw.cap > keepBytes {
		t.Errorf("a large value beside an int: %v, and a buffer of %d bytes kept", err, c.raw.cap)
	}
	if _, err := c.exec(bg, "INSERT INTO nowhere VALUES (?)", int64(1)); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("a statement that does not prepare: %v", err)
	}
	if got := len(stored(t, c)); got != 2 {
		t.Errorf("%d rows, want 2", got)
	}
}

// scanned copies the rows a scan gives, out of SQLite's memory.
func scanned(t *testing.T, c *conn, ctx context.Context, q string, args ...int64) [][]arg {
	t.Helper()
	var rows [][]arg
	err := c.scan(ctx, q, args, func(cols []arg) error {
		row := slices.Clone(cols)
		for i := range row {
			row[i].s, row[i].b = strings.Clone(row[i].s), bytes.Clone(row[i].b)
		}
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestRawScan: a scan reads every storage class as the driver reads it
// (raw in place, the driver through its copies), empty text and blobs
// among them; a scan started inside a scan of the same query goes to the
// driver; the statement is reset for the next scan whatever ended the
// last.
func TestRawScan(t *testing.T) {
	c := rawTestConn(t)
	big := bytes.Repeat([]byte{0, 'x', 0xff}, 100_000)
	for _, v := range [][2]any{
		{int64(math.MinInt64), int64(7)}, {-0.5, math.Inf(1)}, {true, false},
		{"", "text ü\x00after nul"}, {[]byte{}, []byte{1}}, {nil, big}, {string(big[:999]), "x"},
	} {
		if _, err := c.exec(bg, "INSERT INTO t (a, b) VALUES (?, ?)", v[0], v[1]); err != nil {
			t.Fatal(err)
		}
	}
	q := "SELECT a, b FROM t WHERE rowid >= ? ORDER BY rowid"
	got := scanned(t, c, bg, q, 1)
	if c.raw.stmts[q] == 0 {
		t.Fatal("the scan did not run raw")
	}
	r := c.raw
	c.raw = nil
	want := scanned(t, c, bg, q, 1)
	c.raw = r
	if len(got) != 7 {
		t.Fatalf("%d rows, want 7", len(got))
	}
	sameBytes := cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) && (a == nil) == (b == nil) })
	if d := cmp.Diff(want, got, cmp.AllowUnexported(arg{}), sameBytes); d != "" {
		t.Errorf("raw columns differ from the driver's (-driver +raw):\n%s", d)
	}
	for _, row := range got[3:5] {
		if row[0].kind == argNull || row[0].s != "" || row[0].b != nil {
			t.Errorf("empty value read as %+v, want \"\" or a nil blob", row[0])
		}
	}

	// Nested: the inner scan of the same query runs on the driver.
	n := 0
	err := c.scan(bg, q, []int64{6}, func([]arg) error {
		if !c.raw.busy[c.raw.stmts[q]] {
			t.Error("the statement is not busy during its scan")
		}
		if inner := scanned(t, c, bg, q, 1); len(inner) != 7 {
			t.Errorf("the inner scan read %d rows, want 7", len(inner))
		}
		n++
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("outer scan: %d rows, %v; want 2", n, err)
	}
	if len(c.raw.busy) != 0 {
		t.Errorf("statements left busy: %v", c.raw.busy)
	}

	// A callback's error ends the scan and the next starts afresh.
	stop := errors.New("stop here")
	if err := c.scan(bg, q, []int64{1}, func([]arg) error { return stop }); err != stop {
		t.Errorf("the callback's error came back as %v", err)
	}
	if rows := scanned(t, c, bg, q, 2); len(rows) != 6 {
		t.Errorf("after an error: %d rows, want 6", len(rows))
	}
	if err := c.scan(bg, q, nil, func([]arg) error { return nil }); err == nil || !strings.Contains(err.Error(), "0 arguments for 1 parameters") {
		t.Errorf("no arguments: %v", err)
	}
}

// TestRawScanCancel: a cancelled context ends a scan with its error:
// before the first step, between rows, and while a step runs (a query
// that would never end), and the connection reads on afterwards.
func TestRawScanCancel(t *testing.T) {
	c := rawTestConn(t)
	for i := range 5 {
		if _, err := c.exec(bg, "INSERT INTO t (a) VALUES (?)", int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	q := "SELECT a FROM t WHERE a >= ? ORDER BY a"
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.scan(ctx, q, []int64{0}, func([]arg) error { t.Error("a row after the cancel"); return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	n := 0
	err := c.scan(ctx, q, []int64{0}, func([]arg) error { n++; cancel(); return nil })
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Errorf("cancelled in the first row: %d rows, %v", n, err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	forever := "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n WHERE x >= ?"
	if err := c.scan(ctx, forever, []int64{0}, func([]arg) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("interrupted step: %v", err)
	}
	if c.raw.stmts[forever] == 0 {
		t.Error("the endless query did not run raw")
	}
	if rows := scanned(t, c, bg, q, 2); len(rows) != 3 {
		t.Errorf("after the interrupt: %d rows, want 3", len(rows))
	}
}
