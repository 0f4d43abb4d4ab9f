package bundle

import (
	"io"
	"os"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/stream"
)

// body is the temporary file that holds a bundle's records while Build
// learns its manifest. It is unlinked as soon as it is created where the
// system allows, so nothing is left behind if the process dies.
type body struct {
	f       *os.File
	removed bool
	size    int64 // bytes written through the writer so far
}

func newBody(dir string) (*body, error) {
	f, err := os.CreateTemp(dir, "arxi-bundle-body-*")
	if err != nil {
		return nil, errcode.Wrap(errcode.IOFailed, err, "create temporary file")
	}
	return &body{f: f, removed: os.Remove(f.Name()) == nil}, nil
}

// discardBody is a body that only counts what is written: Plan learns a
// manifest without keeping the records.
func discardBody() *body { return &body{} }

// Write implements io.Writer for the stream writer over the body.
func (b *body) Write(p []byte) (int, error) {
	if b.f == nil {
		b.size += int64(len(p))
		return len(p), nil
	}
	n, err := b.f.Write(p)
	b.size += int64(n)
	return n, err
}

// mark flushes w and returns the body's size, to cut back to.
func (b *body) mark(w *stream.Writer) (int64, error) {
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return b.size, nil
}

// cut drops everything written since mark.
func (b *body) cut(w *stream.Writer, mark int64) error {
	if err := w.Flush(); err != nil {
		return err
	}
	if b.f == nil {
		b.size = mark
		return nil
	}
	if err := b.f.Truncate(mark); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "truncate temporary file")
	}
	if _, err := b.f.Seek(mark, io.SeekStart); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "seek temporary file")
	}
	b.size = mark
	return nil
}

// copyTo copies the body to w.
func (b *body) copyTo(w io.Writer) error {
	if _, err := b.f.Seek(0, io.SeekStart); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "read temporary file")
	}
	if _, err := io.Copy(w, io.LimitReader(b.f, b.size)); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "write output")
	}
	return nil
}

func (b *body) close() {
	if b.f == nil {
		return
	}
	b.f.Close()
	if !b.removed {
		os.Remove(b.f.Name())
	}
}
