package cli

import (
	"context"
	"io"
	"os"

	"arxi.dev/arxi/internal/ctxwait"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/safefile"
	"golang.org/x/term"
)

// fder is what a terminal or pipe is recognised by: *os.File, and the
// readers Interruptible returns.
type fder interface{ Fd() uintptr }

// IsTerminal reports whether x (a reader or writer) is a terminal.
func IsTerminal(x any) bool {
	f, ok := x.(fder)
	return ok && term.IsTerminal(int(f.Fd()))
}

// isPipe reports whether w is a pipe or FIFO.
func isPipe(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeNamedPipe != 0
}

// Input opens a command's input: stdin for "" and "-", announced with
// "reading from stdin (Ctrl-D to end)" when stdin is a terminal, or the
// named file. A FIFO or device is waited for, and read, only until ctx
// ends; a directory is refused. Close the result when done (closing stdin
// does nothing).
func (c *Command) Input(ctx context.Context, path string, stdin io.Reader) (io.ReadCloser, error) {
	if path == "" || path == "-" {
		if IsTerminal(stdin) {
			c.Note("reading from stdin (Ctrl-D to end)")
		}
		return io.NopCloser(stdin), nil
	}
	fail := func(err error) error {
		return &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "open input", Err: unwrapPathErr(err)}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fail(err)
	}
	switch {
	case st.IsDir():
		return nil, &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "open input: is a directory"}
	case st.Mode().IsRegular():
		f, err := os.Open(path)
		if err != nil {
			return nil, fail(err)
		}
		return f, nil
	}
	// A FIFO (a shell's <(…) too) blocks its open until a writer comes.
	f, err := ctxwait.Do(ctx, func() (*os.File, error) { return os.Open(path) }, func(f *os.File) { f.Close() })
	switch {
	case err != nil && err == ctx.Err():
		return nil, err
	case err != nil:
		return nil, fail(err)
	}
	return struct {
		io.Reader
		io.Closer
	}{Interruptible(ctx, f), f}, nil
}

// Output writes a command's output with fill: to stdout for "" and "-",
// else to the file path names through safefile.Write (a temporary file
// renamed over it; a device or FIFO written directly; a directory
// refused). Binary output (zstd) is refused on a terminal stdout, unless a
// path names the terminal explicitly.
func (c *Command) Output(ctx context.Context, path string, binary bool, fill func(io.Writer) error) error {
	if path != "" && path != "-" {
		return safefile.Write(ctx, path, fill)
	}
	if err := c.CheckOutput(path, binary); err != nil {
		return err
	}
	return fill(c.Stdout)
}

// CheckOutput fails as Output would before writing anything, so a command
// can refuse before it starts its work.
func (c *Command) CheckOutput(path string, binary bool) error {
	if binary && (path == "" || path == "-") && IsTerminal(c.Stdout) {
		return &errcode.Error{Code: errcode.UsageInvalid, Msg: "refusing to write binary (zstd) output to a terminal",
			Hint: "redirect stdout to a file, or give -o FILE"}
	}
	return nil
}
