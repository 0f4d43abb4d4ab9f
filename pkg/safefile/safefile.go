// Package safefile opens the files a command is given and writes the files
// it produces without hanging on, or destroying, what a path names
// (SPEC §13). Every binary, and the packages that read files for them
// (pkg/signing, pkg/store/sqlite), go through it.
//
// # Inputs
//
// Config, trust-root, key, passphrase, selector and store paths must name
// regular files. An Input opens its path without blocking (O_NONBLOCK, so
// a FIFO with no writer cannot hang the caller), checks the file it opened
// and refuses anything that is not a regular file — a FIFO, a device, a
// directory, a socket — before reading a byte. The check is made on the
// opened file, so the file checked is the file read. A private input (a
// key or a passphrase) is also refused, with key.insecure_file, when its
// group or others may read it, as ssh refuses such a key.
//
//	data, err := safefile.Input{What: "trust root", Code: errcode.ConfigInvalid, Max: 1 << 20}.Read(path)
//
// Check does the same for a path that is opened by someone else (SQLite
// opens the store file itself) and may not exist yet.
//
// # Outputs
//
// Write never destroys what its path names:
//
//   - a new name or a regular file is written to a temporary file in the
//     same directory, synced, and renamed over it, so a reader sees the
//     old file or the whole new one and a failed run leaves the old file;
//     a new file gets mode 0644 less the umask, a replaced one keeps its
//     mode; the temporary file is named ".NAME.arxi-tmp-HOST-PID-RANDOM",
//     and one a killed writer left is removed by the next Write of NAME
//     once it is proven stale (see tempMark);
//   - a symlink is followed and its target replaced the same way (the
//     link stays a link);
//   - a character device or a FIFO (/dev/null, /dev/tty, a named pipe), and
//     a path naming an open descriptor (/dev/stdout, /dev/fd/N), are
//     written directly;
//   - a directory, a socket or a block device is refused with io.failed
//     naming it.
//
// CreateNew is for files that must not exist yet (keygen's key file).
package safefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"arxi.dev/arxi/internal/ctxwait"
	"arxi.dev/arxi/pkg/errcode"
)

// Input describes a file a command reads: what it is, the code of every
// failure to read it, and its limits.
type Input struct {
	What string       // "config file", "trust root", "key file": for messages
	Code errcode.Code // the code of every failure but key.insecure_file
	Max  int64        // size limit in bytes; 0 for none
	// Private refuses, with key.insecure_file, a file its group or others
	// may read (keys and passphrases, SPEC §11).
	Private bool
	// AllowReadable lifts Private's permission check (the sidecar's dev
	// profile only).
	AllowReadable bool
}

// Open opens path for reading after checking that it is a regular file
// (and, for a private input, that only its owner may read it).
func (in Input) Open(path string) (*os.File, error) {
	f, err := openNonblock(path)
	if err != nil {
		return nil, in.fail(path, "open "+in.What, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, in.fail(path, "open "+in.What, err)
	}
	if err := in.check(path, st); err != nil {
		f.Close()
		return nil, err
	}
	if err := clearNonblock(f); err != nil {
		f.Close()
		return nil, in.fail(path, "open "+in.What, err)
	}
	return f, nil
}

// Read reads the whole file at path, at most in.Max bytes.
func (in Input) Read(path string) ([]byte, error) {
	f, err := in.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := io.Reader(f)
	if in.Max > 0 {
		r = io.LimitReader(f, in.Max+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, in.fail(path, "read "+in.What, err)
	}
	if in.Max > 0 && int64(len(data)) > in.Max {
		return nil, &errcode.Error{Code: in.Code, Path: path, Msg: fmt.Sprintf("%s exceeds the limit of %d bytes", in.What, in.Max)}
	}
	return data, nil
}

// Check checks, without opening it, that path names a regular file, or
// nothing: it reports whether the file exists.
func (in Input) Check(path string) (exists bool, err error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, in.fail(path, "open "+in.What, err)
	}
	return true, in.check(path, st)
}

func (in Input) check(path string, st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return &errcode.Error{Code: in.Code, Path: path, Msg: in.What + " is " + describe(st.Mode()) + ", not a regular file",
			Hint: "give the path of a regular file"}
	}
	if in.Private && !in.AllowReadable && insecureMode(st.Mode()) {
		return &errcode.Error{Code: errcode.KeyInsecureFile, Path: path,
			Msg:  fmt.Sprintf("%s has mode %04o: its group or others may read it", in.What, st.Mode().Perm()),
			Hint: "chmod 600 " + path}
	}
	return nil
}

func (in Input) fail(path, msg string, err error) error {
	return &errcode.Error{Code: in.Code, Path: path, Msg: msg, Err: unwrapPath(err)}
}

// describe names a file type for messages.
func describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Write writes the output named by path with fill (see the package
// documentation for what each kind of path gets). Only when fill
// succeeds is anything replaced; its error is returned as it is. Opening
// a FIFO waits for its reader, or for ctx to end.
func Write(ctx context.Context, path string, fill func(io.Writer) error) error {
	target, direct, err := resolve(path)
	if err != nil {
		return err
	}
	if direct {
		return writeDirect(ctx, path, fill)
	}
	return writeAtomic(path, target, fill)
}

// Dir returns the directory Write keeps its temporary file in for path —
// the directory of the file it replaces — or "" when Write writes path
// directly (a device, a FIFO) or cannot write it. Callers put their own
// temporary files there, on the file system that will hold the output.
func Dir(path string) string {
	target, direct, err := resolve(path)
	if err != nil || direct {
		return ""
	}
	return filepath.Dir(target)
}

// resolve says where path's bytes go: the regular file to replace (path
// itself, or the end of its symlink chain), or direct for a device, FIFO
// or descriptor.
func resolve(path string) (target string, direct bool, err error) {
	fail := func(msg string, err error) (string, bool, error) {
		return "", false, &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: msg, Err: err}
	}
	target, descriptor, err := followLinks(path)
	if err != nil {
		return fail("resolve output", err)
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return target, false, nil // a new file, or a symlink's missing target
	case err != nil:
		return fail("open output", unwrapPath(err))
	case st.Mode()&(fs.ModeNamedPipe|fs.ModeCharDevice) != 0:
		return path, true, nil
	case st.Mode().IsRegular() && descriptor:
		return path, true, nil
	case st.Mode().IsRegular():
		return target, false, nil
	}
	return "", false, &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "output is " + describe(st.Mode()) + "; refusing to write to it",
		Hint: "give the path of a file to create or replace, or a device such as /dev/stdout"}
}

// followLinks follows the symlink chain that ends path (not links in its
// directories) and returns the path at its end, which may not exist, and
// whether a link in the chain names an open descriptor (/dev/stdout →
// /proc/self/fd/1 → "pipe:[…]" cannot be resolved by name).
func followLinks(path string) (string, bool, error) {
	descriptor := isDescriptor(path)
	for range 40 {
		st, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) || err == nil && st.Mode()&fs.ModeSymlink == 0 {
			return path, descriptor, nil
		}
		if err != nil {
			return "", false, unwrapPath(err)
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", false, unwrapPath(err)
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(path), link)
		}
		path = link
		descriptor = descriptor || isDescriptor(path)
	}
	return "", false, errors.New("too many levels of symbolic links")
}

// isDescriptor reports whether path names a process's open descriptor.
func isDescriptor(path string) bool {
	p := filepath.Clean(path)
	switch p {
	case "/dev/stdin", "/dev/stdout", "/dev/stderr":
		return true
	}
	if strings.HasPrefix(p, "/dev/fd/") {
		return true
	}
	if rest, ok := strings.CutPrefix(p, "/proc/"); ok {
		pid, fd, ok := strings.Cut(rest, "/")
		return ok && strings.HasPrefix(fd, "fd/") && (pid == "self" || pid == "thread-self" || isNumber(pid))
	}
	return false
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// writeDirect writes to a device, FIFO or descriptor as it is: no
// truncation (a regular file behind a descriptor is appended to, as the
// shell opened it).
func writeDirect(ctx context.Context, path string, fill func(io.Writer) error) error {
	// Opening a FIFO waits for its reader.
	f, err := ctxwait.Do(ctx, func() (*os.File, error) { return os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0) },
		func(f *os.File) { f.Close() })
	switch {
	case err != nil && err == ctx.Err():
		return errcode.Wrap(errcode.IOFailed, err, "open output %s", path)
	case err != nil:
		return &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "open output", Err: unwrapPath(err)}
	}
	err = fill(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "close output", Err: unwrapPath(cerr)}
	}
	return err
}

// writeAtomic writes target through a temporary file beside it, renamed
// over it once fill succeeded and the data is synced.
func writeAtomic(path, target string, fill func(io.Writer) error) error {
	fail := func(msg string, err error) error {
		return &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: msg, Err: unwrapPath(err)}
	}
	perm, keep := fs.FileMode(0o644), false
	if st, err := os.Stat(target); err == nil {
		// Replacing is writing: a file the user may not write is not
		// replaced behind its back, as the shell's > would not.
		w, err := os.OpenFile(target, os.O_WRONLY, 0)
		if err != nil {
			return fail("open output", err)
		}
		w.Close()
		perm, keep = st.Mode().Perm(), true
	}
	removeStale(target)
	f, err := createTemp(target, perm)
	if err != nil {
		return fail("create output", err)
	}
	tmp := f.Name()
	err = fill(newWriteback(f))
	if err == nil && keep {
		// Created under the umask; a replaced file keeps exactly its mode.
		if cerr := f.Chmod(perm); cerr != nil {
			err = fail("set output mode", cerr)
		}
	}
	if err == nil {
		if serr := f.Sync(); serr != nil {
			err = fail("sync output", serr)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fail("close output", cerr)
	}
	if err == nil {
		if rerr := os.Rename(tmp, target); rerr != nil {
			err = fail("rename output into place", rerr)
		}
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(filepath.Dir(target))
	return nil
}

// Temporary files are named ".NAME.arxi-tmp-HOST-PID-RANDOM" beside the
// output NAME: HOST tags the machine and process namespace the writer ran
// in (tempHost), PID is its process id. A writer killed before it renamed
// its temporary file (SIGKILL, a power cut) leaves it behind; the next
// Write of the same output removes it once it can prove it is a dead
// writer's own: the name follows the pattern for this very output, in
// this directory; the HOST tag is this machine's and namespace's, so PID
// means the same process here; no process with PID exists (a PID reused
// since keeps the file, erring on the side of keeping); PID is not this
// process's; and the file is a regular file (not a link) owned by this
// user. Anything else is left alone.
const tempMark = ".arxi-tmp-"

// tempPrefix is the prefix of every temporary file of the output path.
func tempPrefix(path string) string { return "." + filepath.Base(path) + tempMark + tempHost() + "-" }

// createTemp creates a new file beside path under a name not taken.
func createTemp(path string, perm fs.FileMode) (*os.File, error) {
	if !keepPerm(perm) {
		perm = 0o600
	}
	prefix := filepath.Join(filepath.Dir(path), tempPrefix(path)+strconv.Itoa(os.Getpid())+"-")
	for {
		f, err := os.OpenFile(prefix+strconv.FormatUint(rand.Uint64(), 36), os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

// base36 are the digits of a temporary file's random part.
const base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

// removeStale removes the temporary files of path that dead writers left
// (see tempMark), and returns their names. Failures are ignored: a stale
// file that cannot be removed is no reason not to write.
func removeStale(path string) []string {
	dir := filepath.Dir(path)
	prefix := tempPrefix(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		pidText, random, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || random == "" || strings.Trim(random, base36) != "" || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		name := filepath.Join(dir, e.Name())
		st, err := os.Lstat(name)
		if err != nil || !st.Mode().IsRegular() || !ownedByUser(st) {
			continue
		}
		if os.Remove(name) == nil {
			removed = append(removed, name)
		}
	}
	return removed
}

// keepPerm reports whether a file may be created with perm directly: a
// mode the owner cannot write would make the temporary file unwritable.
func keepPerm(perm fs.FileMode) bool { return perm&0o200 != 0 }

// syncDir makes a rename durable; failures are ignored (not every file
// system syncs directories).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// CreateNew creates path, which must not exist (not even as a dangling
// symlink), with mode perm, and writes data to it; on a failed write it
// removes the file again. An existing path is an io.failed error wrapping
// fs.ErrExist.
func CreateNew(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "create file", Err: unwrapPath(err)}
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "write file", Err: unwrapPath(werr)}
	}
	syncDir(filepath.Dir(path))
	return nil
}
