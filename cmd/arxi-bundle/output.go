package main

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/zstdio"
)

// output is where a bundle goes: stdout, or a file written to a temporary
// name in the same directory, synced and renamed into place, so that a
// failed run leaves nothing behind and a reader never sees half a bundle.
type output struct {
	path   string // "" or "-" for stdout
	zstd   bool
	stdout io.Writer
}

func (o output) write(fill func(io.Writer) error) error {
	if o.path == "" || o.path == "-" {
		return o.encode(o.stdout, fill)
	}
	f, err := createTemp(o.path)
	if err != nil {
		return &errcode.Error{Code: errcode.IOFailed, Path: o.path, Msg: "create output", Err: err}
	}
	tmp := f.Name()
	err = o.encode(f, fill)
	if err == nil {
		if serr := f.Sync(); serr != nil {
			err = &errcode.Error{Code: errcode.IOFailed, Path: o.path, Msg: "sync output", Err: serr}
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = &errcode.Error{Code: errcode.IOFailed, Path: o.path, Msg: "close output", Err: cerr}
	}
	if err == nil {
		if rerr := os.Rename(tmp, o.path); rerr != nil {
			err = &errcode.Error{Code: errcode.IOFailed, Path: o.path, Msg: "rename output into place", Err: rerr}
		}
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// createTemp creates a new file beside path, with the mode an ordinary
// output file gets (0666 less the umask), under a name that is not taken.
func createTemp(path string) (*os.File, error) {
	for {
		tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

// encode runs fill over w, through a zstd encoder when asked.
func (o output) encode(w io.Writer, fill func(io.Writer) error) error {
	if !o.zstd {
		return fill(w)
	}
	zw, err := zstdio.NewWriter(w)
	if err != nil {
		return err
	}
	if err := fill(zw); err != nil {
		zw.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "write output")
	}
	return nil
}
