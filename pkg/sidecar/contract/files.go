package contract

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"arxi.dev/arxi/pkg/errcode"
)

// checkRoot refuses an output root that is a symlink or holds one
// (SIDECAR.md §5): a generated file must never be written through a link
// to somewhere else, nor a check pass over files that live elsewhere. A
// root that does not exist yet is fine when create is set.
func checkRoot(dir string, create bool) error {
	st, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		return nil
	case err != nil:
		return &errcode.Error{Code: errcode.IOFailed, Path: dir, Msg: "cannot read the contract directory", Err: err}
	case st.Mode()&fs.ModeSymlink != 0:
		return &errcode.Error{Code: errcode.UsageInvalid, Path: dir, Msg: "the contract directory is a symlink; give the directory itself"}
	case !st.IsDir():
		return &errcode.Error{Code: errcode.UsageInvalid, Path: dir, Msg: "not a directory"}
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return &errcode.Error{Code: errcode.IOFailed, Path: p, Msg: "cannot read the contract directory", Err: err}
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return &errcode.Error{Code: errcode.UsageInvalid, Path: p, Msg: "a symlink inside the contract directory; the contract is regular files only"}
		}
		return nil
	})
}

// Write generates the artifacts into dir, creating it, each file written
// to a temporary file and renamed into place. Schema files of records no
// longer published are removed; nothing else in dir is touched (the
// baseline below it included).
func Write(dir string) ([]File, error) {
	if err := checkRoot(dir, true); err != nil {
		return nil, err
	}
	files, err := Generate()
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "generate the contract")
	}
	want := map[string]bool{}
	for _, f := range files {
		want[f.Name] = true
		if err := writeFile(filepath.Join(dir, filepath.FromSlash(f.Name)), f.Data); err != nil {
			return nil, err
		}
	}
	stale, _ := filepath.Glob(filepath.Join(dir, SchemaDir, "*"+SchemaSuffix))
	for _, p := range stale {
		if !want[SchemaDir+"/"+filepath.Base(p)] {
			if err := os.Remove(p); err != nil {
				return nil, &errcode.Error{Code: errcode.IOFailed, Path: p, Msg: "remove a schema no longer published", Err: err}
			}
		}
	}
	return files, nil
}

func writeFile(name string, data []byte) error {
	fail := func(err error) error {
		return &errcode.Error{Code: errcode.IOFailed, Path: name, Msg: "write the contract", Err: err}
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fail(err)
	}
	return nil
}

// Drift is a difference between a contract directory and the code.
type Drift struct {
	Name   string // slash-separated, below the root
	Reason string // "missing", "differs", "not generated"
}

// Check compares dir with the artifacts the code generates and returns
// every drifted file, sorted by name: missing, different, or a file in
// the generated places (the root and schemas/) that the code does not
// generate. The baseline below dir is not compared.
func Check(dir string) ([]Drift, error) {
	if err := checkRoot(dir, false); err != nil {
		return nil, err
	}
	files, err := Generate()
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "generate the contract")
	}
	var drift []Drift
	want := map[string]bool{}
	for _, f := range files {
		want[f.Name] = true
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			drift = append(drift, Drift{f.Name, "missing"})
		case err != nil:
			return nil, &errcode.Error{Code: errcode.IOFailed, Path: f.Name, Msg: "read the contract", Err: err}
		case !bytes.Equal(got, f.Data):
			drift = append(drift, Drift{f.Name, "differs"})
		}
	}
	for _, sub := range []string{".", SchemaDir} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, &errcode.Error{Code: errcode.IOFailed, Path: sub, Msg: "read the contract", Err: err}
		}
		for _, e := range entries {
			name := path.Join(sub, e.Name())
			if e.IsDir() || want[name] || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			drift = append(drift, Drift{name, "not generated"})
		}
	}
	slices.SortFunc(drift, func(a, b Drift) int { return strings.Compare(a.Name, b.Name) })
	return drift, nil
}
