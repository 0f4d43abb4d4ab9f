package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"

	msqlite "modernc.org/sqlite"
)

// conn is one SQLite connection used through the driver interfaces
// directly: prepared statements are cached per connection and rows are
// read into reused buffers, without database/sql's per-call overhead.
type conn struct {
	dc    driver.Conn
	ex    driver.ExecerContext
	stmts map[string]driver.Stmt
	args  []driver.NamedValue
	busy  map[driver.Stmt]bool // statements with open rows
	raw   *raw                 // exec beside the driver; nil: the driver runs all
}

var drv = &msqlite.Driver{}

func openConn(dsn string) (*conn, error) {
	dc, err := drv.Open(dsn)
	if err != nil {
		return nil, err
	}
	ex, ok := dc.(driver.ExecerContext)
	if !ok {
		dc.Close()
		return nil, errors.New("sqlite driver lacks ExecerContext")
	}
	return &conn{dc: dc, ex: ex, stmts: map[string]driver.Stmt{}, busy: map[driver.Stmt]bool{}, raw: newRaw(dc)}, nil
}

// stmt returns the cached prepared statement for query.
func (c *conn) stmt(query string) (driver.Stmt, error) {
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	s, err := c.dc.(driver.ConnPrepareContext).PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = s
	return s, nil
}

func (c *conn) bind(args []any) []driver.NamedValue {
	c.args = c.args[:0]
	for i, a := range args {
		c.args = append(c.args, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	return c.args
}

// execDirect runs a statement without caching it (DDL, pragmas,
// transaction control).
func (c *conn) execDirect(ctx context.Context, query string) error {
	_, err := c.ex.ExecContext(ctx, query, nil)
	return err
}

// exec runs a cached statement. The hot path passes a context without a
// Done channel: the driver would otherwise start a watcher per call.
func (c *conn) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.execResult(ctx, query, args)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// execID runs a cached INSERT and returns the new rowid.
func (c *conn) execID(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.execResult(ctx, query, args)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// execArgs runs a cached statement of values that are args, through raw
// when it can, and returns the rows it changed.
func (c *conn) execArgs(query string, args []arg) (int64, error) {
	s, err := c.rawStmt(bg, query)
	if err != nil {
		return 0, err
	}
	if s != 0 {
		n, _, err := c.raw.execArgs(s, args)
		return n, err
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.value()
	}
	res, err := c.driverExec(bg, query, vals)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c *conn) execResult(ctx context.Context, query string, args []any) (driver.Result, error) {
	s, err := c.rawStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s != 0 {
		n, id, err := c.raw.exec(s, args)
		if err != nil {
			return nil, err
		}
		return result{n, id}, nil
	}
	return c.driverExec(ctx, query, args)
}

// rawStmt returns query's statement on raw, or 0 when the driver runs
// it: there is no raw, ctx can be cancelled (the driver watches it), or
// raw cannot take the query.
func (c *conn) rawStmt(ctx context.Context, query string) (uintptr, error) {
	if c.raw == nil || ctx.Done() != nil {
		return 0, nil
	}
	return c.raw.stmt(query)
}

// driverExec runs a cached statement through the driver.
func (c *conn) driverExec(ctx context.Context, query string, args []any) (driver.Result, error) {
	s, err := c.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.(driver.StmtExecContext).ExecContext(ctx, c.bind(args))
}

// query runs a cached statement and calls fn with each row's values, which
// are only valid during the call. fn may return errStop.
func (c *conn) query(ctx context.Context, query string, args []any, fn func([]driver.Value) error) error {
	s, err := c.stmt(query)
	if err != nil {
		return err
	}
	if c.busy[s] {
		// The cached statement is being stepped by an enclosing call.
		if s, err = c.dc.(driver.ConnPrepareContext).PrepareContext(context.Background(), query); err != nil {
			return err
		}
		defer s.Close()
	} else {
		c.busy[s] = true
		defer delete(c.busy, s)
	}
	// fn may query again on this connection, so the arguments and values
	// are not shared buffers.
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	rows, err := s.(driver.StmtQueryContext).QueryContext(ctx, named)
	if err != nil {
		return err
	}
	vals := make([]driver.Value, len(rows.Columns()))
	for {
		err := rows.Next(vals)
		if err == io.EOF {
			break
		}
		if err == nil {
			err = fn(vals)
		}
		if err != nil {
			rows.Close()
			return err
		}
	}
	return rows.Close()
}

// scan runs a cached query of integer arguments and calls fn with each
// row's columns, which are only valid during the call (raw's point into
// SQLite's memory) and may be written by fn. raw runs it when it can
// take the query and is not stepping it already (fn may query again);
// otherwise the driver does.
func (c *conn) scan(ctx context.Context, query string, args []int64, fn func([]arg) error) error {
	if c.raw != nil {
		s, err := c.raw.stmt(query)
		if err != nil {
			return err
		}
		if s != 0 && !c.raw.busy[s] {
			return c.raw.scan(ctx, s, args, fn)
		}
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a
	}
	var cols []arg
	return c.query(ctx, query, vals, func(v []driver.Value) error {
		cols = cols[:0]
		for _, v := range v {
			cols = append(cols, readArg(v))
		}
		return fn(cols)
	})
}

// queryRow returns the first row's values (copied), or nil when there is
// none.
func (c *conn) queryRow(ctx context.Context, query string, args ...any) ([]driver.Value, error) {
	var out []driver.Value
	err := c.query(ctx, query, args, func(v []driver.Value) error {
		out = append([]driver.Value(nil), v...)
		return errStop
	})
	if err == errStop {
		err = nil
	}
	return out, err
}

func (c *conn) close() error {
	if c.raw != nil {
		c.raw.close()
	}
	for _, s := range c.stmts {
		s.Close()
	}
	c.stmts = nil
	return c.dc.Close()
}

var errStop = errors.New("stop")

// result is the driver.Result of a statement raw ran.
type result struct{ changes, lastID int64 }

func (r result) RowsAffected() (int64, error) { return r.changes, nil }
func (r result) LastInsertId() (int64, error) { return r.lastID, nil }

// The values the driver returns, by the rules of arg's int, bytes and
// text.
func asInt(v driver.Value) (int64, error)    { return readArg(v).int() }
func asBytes(v driver.Value) ([]byte, error) { return readArg(v).bytes() }
func asText(v driver.Value) (string, error)  { return readArg(v).text() }
