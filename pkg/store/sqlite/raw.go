package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// raw executes cached statements on a connection's SQLite handle through
// modernc.org/sqlite/lib, beside the driver. The driver binds each text
// and blob value through a C allocation of its own (and the C
// allocator's global lock), and looks each parameter's name up; raw
// copies all of a statement's values into one C buffer it keeps and
// binds them in place (SQLITE_STATIC): the driver's binding was about a
// fifth of the writer's CPU appending envelope rows. It serves exec and
// the scans of envelope rows (scan); other queries, and everything raw
// cannot take (below), go through the driver, on the same handle, so
// both see one connection and one transaction.
//
// raw also takes the connection's own mutex out of the handle while it
// is open (see newRaw).
type raw struct {
	db    uintptr
	tls   *libc.TLS
	stmts map[string]uintptr // 0: the driver runs this query
	buf   uintptr            // C memory, cap bytes; bound values point into it
	cap   int
	mutex uintptr          // the handle's sqlite3_mutex, put back by close
	args  []arg            // exec's values, as execArgs takes them
	busy  map[uintptr]bool // statements scan is stepping
}

// arg is one value of a statement, of the driver's value types (int64,
// float64, bool, string, []byte, nil), without an interface around it:
// boxing the sixteen values of an envelope row cost an allocation for
// most of them.
type arg struct {
	kind argKind
	i    int64 // argInt, argBool (0 or 1)
	f    float64
	s    string
	b    []byte
}

type argKind uint8

const (
	argNull argKind = iota
	argInt
	argFloat
	argBool
	argText
	argBlob
	argOther // read only: a value of a type SQLite does not return; s is its type's name
)

func intArg(v int64) arg   { return arg{kind: argInt, i: v} }
func textArg(v string) arg { return arg{kind: argText, s: v} }

// optTextArg is NULL for "".
func optTextArg(v string) arg {
	if v == "" {
		return arg{}
	}
	return textArg(v)
}

// blobArg is NULL for nil, as a nil []byte is to the driver.
func blobArg(v []byte) arg {
	if v == nil {
		return arg{}
	}
	return arg{kind: argBlob, b: v}
}

// argOf converts a driver value.
func argOf(v any) (arg, error) {
	switch v := v.(type) {
	case int64:
		return intArg(v), nil
	case float64:
		return arg{kind: argFloat, f: v}, nil
	case bool:
		a := arg{kind: argBool}
		if v {
			a.i = 1
		}
		return a, nil
	case string:
		return textArg(v), nil
	case []byte:
		return blobArg(v), nil
	case nil:
		return arg{}, nil
	}
	return arg{}, fmt.Errorf("sqlite: invalid driver.Value type %T", v)
}

// int is an integer column's value.
func (a arg) int() (int64, error) {
	if a.kind == argInt {
		return a.i, nil
	}
	return 0, fmt.Errorf("want an integer, have %s", a.typeName())
}

// bytes is a blob column's value; text is taken as its bytes.
func (a arg) bytes() ([]byte, error) {
	switch a.kind {
	case argBlob:
		return a.b, nil
	case argText:
		return []byte(a.s), nil
	}
	return nil, fmt.Errorf("want a blob, have %s", a.typeName())
}

// text is a text column's value; a blob is taken as text and NULL as "".
func (a arg) text() (string, error) {
	switch a.kind {
	case argText:
		return a.s, nil
	case argBlob:
		return string(a.b), nil
	case argNull:
		return "", nil
	}
	return "", fmt.Errorf("want text, have %s", a.typeName())
}

// typeName is the Go type of a as a driver value, as %T prints it.
func (a arg) typeName() string {
	switch a.kind {
	case argInt:
		return "int64"
	case argFloat:
		return "float64"
	case argBool:
		return "bool"
	case argText:
		return "string"
	case argBlob:
		return "[]uint8"
	case argOther:
		return a.s
	}
	return "<nil>"
}

// readArg is a value the driver read as an arg. Unlike a value bound
// (argOf), a nil []byte is an empty blob, not NULL.
func readArg(v driver.Value) arg {
	switch v := v.(type) {
	case []byte:
		return arg{kind: argBlob, b: v}
	case int64, float64, bool, string, nil:
		a, _ := argOf(v)
		return a
	}
	return arg{kind: argOther, s: fmt.Sprintf("%T", v)}
}

// value is a as a driver value.
func (a arg) value() any {
	switch a.kind {
	case argInt:
		return a.i
	case argFloat:
		return a.f
	case argBool:
		return a.i != 0
	case argText:
		return a.s
	case argBlob:
		return a.b
	}
	return nil
}

// newRaw returns the handle of a modernc.org/sqlite connection, or nil
// when dc is not one this package knows the layout of: the driver keeps
// its sqlite3* and its TLS in the first two fields of its conn and does
// not export them. Anything else, say a driver version that moved them,
// leaves every statement to the driver (TestRawHandle fails, so an
// upgrade that loses the fast path is seen).
//
// The driver opens every connection SQLITE_OPEN_FULLMUTEX, so each call
// into SQLite enters and leaves the connection's mutex: several times a
// row, a tenth of the appender's wall time. The mutex guards nothing
// here. The driver's own state (the TLS every call runs on) is not safe
// for two goroutines at once, so a connection is only ever used by one at
// a time (database/sql's contract, and this package's: a conn belongs to
// the DB's writer or to one reader, under the DB's locks), and the one
// call made from another goroutine, sqlite3_interrupt on a cancelled
// context, is an atomic store that takes no mutex. newRaw therefore
// clears the handle's mutex, which is what SQLITE_OPEN_NOMUTEX does (with
// no mutex, SQLite's enter and leave are no-ops), and close puts it back
// so that sqlite3_close frees it. Global state (the allocator, the VFS)
// keeps its own mutexes.
func newRaw(dc driver.Conn) *raw {
	v := reflect.ValueOf(dc)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	t := v.Type().Elem()
	if t.Kind() != reflect.Struct || t.PkgPath() != "modernc.org/sqlite" || t.Name() != "conn" || t.NumField() < 2 {
		return nil
	}
	fdb, ftls := t.Field(0), t.Field(1)
	if fdb.Name != "db" || fdb.Type != reflect.TypeFor[uintptr]() || ftls.Name != "tls" || ftls.Type != reflect.TypeFor[*libc.TLS]() {
		return nil
	}
	p := v.UnsafePointer()
	r := &raw{
		db:    *(*uintptr)(unsafe.Add(p, fdb.Offset)),
		tls:   *(**libc.TLS)(unsafe.Add(p, ftls.Offset)),
		stmts: map[string]uintptr{},
		busy:  map[uintptr]bool{},
	}
	if r.db == 0 || r.tls == nil {
		return nil
	}
	h := r.handle()
	r.mutex, h.Fmutex = h.Fmutex, 0
	return r
}

// handle is the connection's sqlite3 struct, in C memory (read through a
// pointer to db, as cBytes reads its pointer).
func (r *raw) handle() *sqlite3.Tsqlite3 {
	return *(**sqlite3.Tsqlite3)(unsafe.Pointer(&r.db))
}

// stmt returns the prepared statement of query, or 0 when the driver
// must run it: a query of several statements, or with named or numbered
// parameters, which the driver binds by name.
func (r *raw) stmt(query string) (uintptr, error) {
	if s, ok := r.stmts[query]; ok {
		return s, nil
	}
	zsql, err := libc.CString(query)
	if err != nil {
		return 0, err
	}
	defer libc.Xfree(r.tls, zsql)
	// The statement and the rest of the query, written by prepare.
	const ptr = unsafe.Sizeof(uintptr(0))
	out := libc.Xmalloc(r.tls, types.Size_t(2*ptr))
	if out == 0 {
		return 0, errors.New("sqlite: out of memory")
	}
	defer libc.Xfree(r.tls, out)
	if rc := sqlite3.Xsqlite3_prepare_v2(r.tls, r.db, zsql, -1, out, out+ptr); rc != sqlite3.SQLITE_OK {
		return 0, r.err(rc)
	}
	ptrs := unsafe.Slice((*uintptr)(unsafe.Pointer(&cBytes(out, int(2*ptr))[0])), 2)
	s, tail := ptrs[0], ptrs[1]
	if s == 0 || strings.Trim(libc.GoString(tail), " \t\n\r;") != "" || !anonymous(r.tls, s) {
		if s != 0 {
			sqlite3.Xsqlite3_finalize(r.tls, s)
		}
		s = 0
	}
	r.stmts[query] = s
	return s, nil
}

// exec runs the cached statement s with args, the driver's value types
// (int64, float64, bool, string, []byte, nil), and returns its changes
// and the last rowid.
func (r *raw) exec(s uintptr, args []any) (changes, lastID int64, err error) {
	r.args = r.args[:0]
	for _, v := range args {
		a, err := argOf(v)
		if err != nil {
			return 0, 0, err
		}
		r.args = append(r.args, a)
	}
	defer clear(r.args)
	return r.execArgs(s, r.args)
}

// execArgs is exec of values that are args already.
func (r *raw) execArgs(s uintptr, args []arg) (changes, lastID int64, err error) {
	n := int(sqlite3.Xsqlite3_bind_parameter_count(r.tls, s))
	if len(args) < n {
		return 0, 0, fmt.Errorf("missing argument with index %d", len(args)+1)
	}
	size := 0
	for i := range args[:n] {
		size += len(args[i].s) + len(args[i].b)
	}
	if err := r.grow(size); err != nil {
		return 0, 0, err
	}
	// Whether the statement steps or a value fails to bind, it is reset
	// and a buffer larger than keepBytes is freed. The bound values stay
	// pointing into buf; every exec binds all of a statement's parameters
	// again before it steps.
	defer func() {
		sqlite3.Xsqlite3_reset(r.tls, s)
		if r.cap > keepBytes {
			r.free()
		}
	}()
	mem, off := cBytes(r.buf, r.cap), 0
	for i := range args[:n] {
		a, idx := &args[i], int32(i+1)
		var rc int32
		switch a.kind {
		case argInt:
			rc = sqlite3.Xsqlite3_bind_int64(r.tls, s, idx, a.i)
		case argFloat:
			rc = sqlite3.Xsqlite3_bind_double(r.tls, s, idx, a.f)
		case argBool:
			rc = sqlite3.Xsqlite3_bind_int(r.tls, s, idx, int32(a.i))
		case argText:
			copy(mem[off:], a.s)
			rc = sqlite3.Xsqlite3_bind_text(r.tls, s, idx, r.buf+uintptr(off), int32(len(a.s)), 0)
			off += len(a.s)
		case argBlob:
			copy(mem[off:], a.b)
			rc = sqlite3.Xsqlite3_bind_blob(r.tls, s, idx, r.buf+uintptr(off), int32(len(a.b)), 0)
			off += len(a.b)
		default:
			rc = sqlite3.Xsqlite3_bind_null(r.tls, s, idx)
		}
		if rc != sqlite3.SQLITE_OK {
			return 0, 0, r.err(rc)
		}
	}
	for {
		switch rc := sqlite3.Xsqlite3_step(r.tls, s); rc {
		case sqlite3.SQLITE_ROW:
			continue
		case sqlite3.SQLITE_DONE:
			return sqlite3.Xsqlite3_changes64(r.tls, r.db), sqlite3.Xsqlite3_last_insert_rowid(r.tls, r.db), nil
		default:
			return 0, 0, r.err(rc)
		}
	}
}

// scan runs the cached query s with integer arguments and calls fn with
// each row's columns. Their text and blobs are SQLite's memory, valid
// until the next step: only during the call. Reading them in place saves
// the driver's copy of every value into memory of its own, with an
// allocation each (about a third of the CPU of reading envelope rows).
//
// A cancelled ctx interrupts the statement (sqlite3_interrupt, which
// takes no TLS of the connection's; the driver does the same) and ends
// the scan between rows, with ctx's error.
func (r *raw) scan(ctx context.Context, s uintptr, args []int64, fn func([]arg) error) error {
	r.busy[s] = true
	defer func() {
		sqlite3.Xsqlite3_reset(r.tls, s)
		delete(r.busy, s)
	}()
	n := int(sqlite3.Xsqlite3_bind_parameter_count(r.tls, s))
	if len(args) != n {
		return fmt.Errorf("sqlite: %d arguments for %d parameters", len(args), n)
	}
	for i, v := range args {
		if rc := sqlite3.Xsqlite3_bind_int64(r.tls, s, int32(i+1), v); rc != sqlite3.SQLITE_OK {
			return r.err(rc)
		}
	}
	done := ctx.Done()
	if done != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		var mu sync.Mutex
		running := true
		stop := context.AfterFunc(ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if running { // not a later statement's step
				tls := libc.NewTLS()
				sqlite3.Xsqlite3_interrupt(tls, r.db)
				tls.Close()
			}
		})
		defer func() {
			if !stop() {
				mu.Lock()
				running = false
				mu.Unlock()
			}
		}()
	}
	cols := make([]arg, sqlite3.Xsqlite3_column_count(r.tls, s))
	for {
		switch rc := sqlite3.Xsqlite3_step(r.tls, s); rc {
		case sqlite3.SQLITE_ROW:
		case sqlite3.SQLITE_DONE:
			return nil
		default:
			if err := ctx.Err(); err != nil {
				return err
			}
			return r.err(rc)
		}
		for i := range cols {
			cols[i] = r.column(s, int32(i))
		}
		if err := fn(cols); err != nil {
			return err
		}
		if done != nil {
			select {
			case <-done:
				return ctx.Err()
			default:
			}
		}
	}
}

// column is column i of the row s stepped to, its text or blob in
// SQLite's memory. Empty text and blobs are "" and nil, as the driver
// reads them.
func (r *raw) column(s uintptr, i int32) arg {
	switch sqlite3.Xsqlite3_column_type(r.tls, s, i) {
	case sqlite3.SQLITE_INTEGER:
		return intArg(sqlite3.Xsqlite3_column_int64(r.tls, s, i))
	case sqlite3.SQLITE_FLOAT:
		return arg{kind: argFloat, f: sqlite3.Xsqlite3_column_double(r.tls, s, i)}
	case sqlite3.SQLITE_TEXT:
		p := sqlite3.Xsqlite3_column_text(r.tls, s, i)
		n := int(sqlite3.Xsqlite3_column_bytes(r.tls, s, i))
		if p == 0 || n == 0 {
			return textArg("")
		}
		b := cBytes(p, n)
		return textArg(unsafe.String(&b[0], n))
	case sqlite3.SQLITE_BLOB:
		p := sqlite3.Xsqlite3_column_blob(r.tls, s, i)
		n := int(sqlite3.Xsqlite3_column_bytes(r.tls, s, i))
		if p == 0 || n == 0 {
			return arg{kind: argBlob}
		}
		return arg{kind: argBlob, b: cBytes(p, n)}
	}
	return arg{}
}

// grow makes buf hold at least size bytes.
func (r *raw) grow(size int) error {
	if size <= r.cap {
		return nil
	}
	if size > math.MaxInt32 {
		return errors.New("sqlite: values too large to bind")
	}
	c := max(size, min(2*r.cap, keepBytes), 64<<10)
	p := libc.Xmalloc(r.tls, types.Size_t(c))
	if p == 0 {
		return fmt.Errorf("sqlite: cannot allocate %d bytes of memory", c)
	}
	r.free()
	r.buf, r.cap = p, c
	return nil
}

// close finalizes the statements, frees the buffer and gives the handle
// its mutex back; the driver's connection closes the handle after it.
func (r *raw) close() {
	r.handle().Fmutex = r.mutex
	for q, s := range r.stmts {
		if s != 0 {
			sqlite3.Xsqlite3_finalize(r.tls, s)
		}
		delete(r.stmts, q)
	}
	r.free()
}

// keepBytes bounds the buffer a connection keeps between statements: a
// batch of envelope rows of the usual kilobyte or so fits in it, and the
// larger buffer of a batch of large payloads is freed after its
// statement, so a long-lived writer (the sidecar) does not hold it.
const keepBytes = 1 << 20

func (r *raw) free() {
	if r.buf != 0 {
		libc.Xfree(r.tls, r.buf)
		r.buf, r.cap = 0, 0
	}
}

// err is the error of result code rc, in the driver's words and type
// (sqliteError), so that isConstraint and mapErr read both alike.
func (r *raw) err(rc int32) error {
	str := libc.GoString(sqlite3.Xsqlite3_errstr(r.tls, rc))
	busy := ""
	if rc == sqlite3.SQLITE_BUSY {
		busy = " (SQLITE_BUSY)"
	}
	if msg := libc.GoString(sqlite3.Xsqlite3_errmsg(r.tls, r.db)); msg != str {
		str += ": " + msg
	}
	return &rawError{msg: fmt.Sprintf("%s (%v)%s", str, rc, busy), code: int(rc)}
}

// rawError is an SQLite error of a statement raw ran.
type rawError struct {
	msg  string
	code int
}

func (e *rawError) Error() string { return e.msg }

// Code is the SQLite result code, as the driver's Error.Code.
func (e *rawError) Code() int { return e.code }

// sqliteError is an error that carries an SQLite result code: the
// driver's *sqlite.Error or a *rawError.
type sqliteError interface {
	error
	Code() int
}

// cBytes is the n bytes of C memory at p: memory of modernc.org/libc's
// allocator, outside the Go heap, which the garbage collector neither
// moves nor frees. (Read through a pointer to p, so that vet does not
// take it for a Go pointer kept as an integer.)
func cBytes(p uintptr, n int) []byte {
	return unsafe.Slice(*(**byte)(unsafe.Pointer(&p)), n)
}

// anonymous reports whether every parameter of s is a plain "?".
func anonymous(tls *libc.TLS, s uintptr) bool {
	for i := int32(1); i <= sqlite3.Xsqlite3_bind_parameter_count(tls, s); i++ {
		if sqlite3.Xsqlite3_bind_parameter_name(tls, s, i) != 0 {
			return false
		}
	}
	return true
}
