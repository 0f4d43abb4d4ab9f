//go:build unix

package safefile

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
)

func write(t *testing.T, path, data string, perm fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

func fifo(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return p
}

func socket(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Skipf("unix socket: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return p
}

// TestInput checks what an input path may name: a regular file (also
// through a symlink), never a FIFO — refused without waiting for a writer
// — a device, a directory or a socket; and for a private input, only a
// file its owner alone may read.
func TestInput(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	write(t, regular, "data", 0o600)
	readable := filepath.Join(dir, "readable")
	write(t, readable, "data", 0o644)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	write(t, big, strings.Repeat("x", 11), 0o600)
	pipe, sock := fifo(t, dir), socket(t, dir)
	for _, tc := range []struct {
		name    string
		path    string
		private bool
		code    errcode.Code // "" for success
		msg     string
	}{
		{"regular", regular, false, "", ""},
		{"private regular", regular, true, "", ""},
		{"symlink to regular", link, true, "", ""},
		{"readable, not private", readable, false, "", ""},
		{"readable private", readable, true, errcode.KeyInsecureFile, "mode 0644"},
		{"FIFO", pipe, false, errcode.ConfigInvalid, "a FIFO"},
		{"device", "/dev/null", false, errcode.ConfigInvalid, "a character device"},
		{"directory", dir, false, errcode.ConfigInvalid, "a directory"},
		{"socket", sock, false, errcode.ConfigInvalid, "open test file"}, // open(2) fails: ENXIO
		{"missing", filepath.Join(dir, "none"), false, errcode.ConfigInvalid, "no such file"},
		{"too large", big, false, errcode.ConfigInvalid, "exceeds the limit of 10 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{What: "test file", Code: errcode.ConfigInvalid, Max: 10, Private: tc.private}
			data, err := in.Read(tc.path)
			if tc.code == "" {
				if err != nil || string(data) != "data" {
					t.Fatalf("Read(%s) = %q, %v; want data", tc.path, data, err)
				}
				return
			}
			e, ok := errcode.As(err)
			if !ok || e.Code != tc.code || !strings.Contains(err.Error(), tc.msg) || e.Path != tc.path {
				t.Fatalf("Read(%s) = %v, want %s naming the path and %q", tc.path, err, tc.code, tc.msg)
			}
		})
	}
	t.Run("dev profile", func(t *testing.T) {
		in := Input{What: "key file", Code: errcode.KeyMalformed, Private: true, AllowReadable: true}
		if _, err := in.Read(readable); err != nil {
			t.Errorf("AllowReadable: %v", err)
		}
	})
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	write(t, regular, "x", 0o644)
	in := Input{What: "store", Code: errcode.StoreIO}
	if ok, err := in.Check(regular); !ok || err != nil {
		t.Errorf("Check(regular) = %v, %v", ok, err)
	}
	if ok, err := in.Check(filepath.Join(dir, "new")); ok || err != nil {
		t.Errorf("Check(new) = %v, %v; want false, nil", ok, err)
	}
	for _, p := range []string{fifo(t, dir), dir, "/dev/null"} {
		if _, err := in.Check(p); errcode.CodeOf(err) != errcode.StoreIO {
			t.Errorf("Check(%s) = %v, want store.io", p, err)
		}
	}
}

func fill(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

// entries lists dir's names, to catch temporary files left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWrite(t *testing.T) {
	ctx := context.Background()
	t.Run("new file", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "out")
		old := syscall.Umask(0o022)
		defer syscall.Umask(old)
		if err := Write(ctx, p, fill("new")); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		if b, _ := os.ReadFile(p); string(b) != "new" || st.Mode().Perm() != 0o644 {
			t.Errorf("got %q mode %v, want new 0644", b, st.Mode())
		}
		if n := entries(t, dir); len(n) != 1 {
			t.Errorf("directory holds %q", n)
		}
	})
	t.Run("regular file keeps its mode", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "out")
		write(t, p, "old", 0o600)
		if err := Write(ctx, p, fill("new")); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		if b, _ := os.ReadFile(p); string(b) != "new" || st.Mode().Perm() != 0o600 {
			t.Errorf("got %q mode %v, want new 0600", b, st.Mode())
		}
	})
	t.Run("failed fill leaves the old file", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "out")
		write(t, p, "old", 0o644)
		boom := errors.New("boom")
		err := Write(ctx, p, func(w io.Writer) error { io.WriteString(w, "half"); return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want fill's", err)
		}
		if b, _ := os.ReadFile(p); string(b) != "old" {
			t.Errorf("content %q, want old", b)
		}
		if n := entries(t, dir); len(n) != 1 {
			t.Errorf("temporary file left: %q", n)
		}
	})
	t.Run("read-only file refused", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root writes anything")
		}
		p := filepath.Join(t.TempDir(), "out")
		write(t, p, "old", 0o444)
		if err := Write(ctx, p, fill("new")); errcode.CodeOf(err) != errcode.IOFailed {
			t.Errorf("err = %v, want io.failed", err)
		}
		if b, _ := os.ReadFile(p); string(b) != "old" {
			t.Errorf("content %q, want old", b)
		}
	})
	t.Run("symlink target replaced", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "target")
		write(t, target, "old", 0o644)
		link := filepath.Join(dir, "link")
		if err := os.Symlink("target", link); err != nil {
			t.Fatal(err)
		}
		if err := Write(ctx, link, fill("new")); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Lstat(link); st.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("the link was replaced by a %v", st.Mode())
		}
		if b, _ := os.ReadFile(target); string(b) != "new" {
			t.Errorf("target %q, want new", b)
		}
	})
	t.Run("dangling symlink creates its target", func(t *testing.T) {
		dir := t.TempDir()
		link := filepath.Join(dir, "link")
		if err := os.Symlink("made", link); err != nil {
			t.Fatal(err)
		}
		if err := Write(ctx, link, fill("new")); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "made")); string(b) != "new" {
			t.Errorf("target %q, want new", b)
		}
	})
	t.Run("device written directly", func(t *testing.T) {
		st0, err := os.Stat("/dev/null")
		if err != nil {
			t.Skip(err)
		}
		if err := Write(ctx, "/dev/null", fill("gone")); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat("/dev/null"); st.Mode() != st0.Mode() {
			t.Errorf("/dev/null is now %v", st.Mode())
		}
	})
	t.Run("FIFO written directly", func(t *testing.T) {
		p := fifo(t, t.TempDir())
		got := make(chan string)
		go func() {
			f, err := os.Open(p)
			if err != nil {
				got <- err.Error()
				return
			}
			b, _ := io.ReadAll(f)
			f.Close()
			got <- string(b)
		}()
		if err := Write(ctx, p, fill("piped")); err != nil {
			t.Fatal(err)
		}
		if s := <-got; s != "piped" {
			t.Errorf("reader got %q", s)
		}
		if st, _ := os.Lstat(p); st.Mode()&fs.ModeNamedPipe == 0 {
			t.Errorf("the FIFO is now %v", st.Mode())
		}
	})
	t.Run("FIFO without reader ends with ctx", func(t *testing.T) {
		p := fifo(t, t.TempDir())
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := Write(ctx, p, fill("x")); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	for _, tc := range []struct{ name, path string }{
		{"directory", t.TempDir()},
		{"socket", socket(t, t.TempDir())},
	} {
		t.Run(tc.name+" refused", func(t *testing.T) {
			err := Write(ctx, tc.path, fill("x"))
			if e, ok := errcode.As(err); !ok || e.Code != errcode.IOFailed || e.Path != tc.path {
				t.Errorf("err = %v, want io.failed naming %s", err, tc.path)
			}
		})
	}
}

func TestIsDescriptor(t *testing.T) {
	for p, want := range map[string]bool{
		"/dev/stdout": true, "/dev/stderr": true, "/dev/fd/3": true, "/proc/self/fd/1": true, "/proc/12/fd/1": true,
		"/dev/null": false, "/proc/self/status": false, "out.arxb": false, "/dev/fdx": false,
	} {
		if got := isDescriptor(p); got != want {
			t.Errorf("isDescriptor(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestCreateNew(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	if err := CreateNew(p, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	if err := CreateNew(p, []byte("again"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second CreateNew = %v, want fs.ErrExist", err)
	}
	link := filepath.Join(dir, "dangling")
	os.Symlink(filepath.Join(dir, "elsewhere"), link)
	if err := CreateNew(link, []byte("k"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateNew(dangling symlink) = %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "k" {
		t.Errorf("content %q", b)
	}
}

func TestDir(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "real"), 0o755)
	os.Symlink(filepath.Join(dir, "real", "target"), filepath.Join(dir, "link"))
	for path, want := range map[string]string{
		filepath.Join(dir, "new.arxb"): dir,
		filepath.Join(dir, "link"):     filepath.Join(dir, "real"),
		"/dev/null":                    "",
		"/dev/stdout":                  "",
		dir:                            "",
	} {
		if got := Dir(path); got != want {
			t.Errorf("Dir(%s) = %q, want %q", path, got, want)
		}
	}
}
