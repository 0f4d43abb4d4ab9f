package cli

import (
	"io"
	"strings"
	"text/tabwriter"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
)

// Table is a human table on stdout: columns aligned on a terminal, one
// tab-separated line per row otherwise, for cut, awk and sort.
type Table struct {
	w   io.Writer
	tw  *tabwriter.Writer // nil when not on a terminal
	err error             // the first write error
}

// Table returns a Table writing to the command's stdout.
func (c *Command) Table() *Table {
	t := &Table{w: c.Stdout}
	if IsTerminal(c.Stdout) {
		t.tw = tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		t.w = t.tw
	}
	return t
}

// Row writes one row.
func (t *Table) Row(cells ...string) {
	if t.err == nil {
		_, t.err = io.WriteString(t.w, strings.Join(cells, "\t")+"\n")
	}
}

// Flush writes what the Table holds.
func (t *Table) Flush() error {
	if t.err == nil && t.tw != nil {
		t.err = t.tw.Flush()
	}
	if t.err != nil {
		return errcode.Wrap(errcode.IOFailed, t.err, "write output")
	}
	return nil
}

// Time formats a timestamp for a human table: to the second on a terminal
// (2026-11-22 10:00:00Z), as the canonical RFC 3339 form otherwise.
func (c *Command) Time(ts scalar.Timestamp) string {
	if !IsTerminal(c.Stdout) {
		return ts.String()
	}
	return ts.Time().UTC().Format("2006-01-02 15:04:05Z")
}
