package dg

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
)

// MaxRunpackSize bounds the bytes read from one runpack in all, so a
// manifest listing many large files cannot exhaust memory.
const MaxRunpackSize = 256 << 20

// maxWalk bounds the entries of artifacts/ examined for unlisted files.
const maxWalk = 10000

// maxListedChecks bounds the failed checks named in a dg.integrity message
// and an anomaly payload; the rest are counted. (A manifest of 8 MiB can
// name tens of thousands of files.)
const maxListedChecks = 1000

// The artifacts of a v1 runpack, at the paths DG's RunpackBuilder writes.
const (
	specPath           = "artifacts/scenario_spec.json"
	triggersPath       = "artifacts/triggers.json"
	gateEvalsPath      = "artifacts/gate_evals.json"
	decisionsPath      = "artifacts/decisions.json"
	packetsPath        = "artifacts/packets.json"
	submissionsPath    = "artifacts/submissions.json"
	toolCallsPath      = "artifacts/tool_calls.json"
	verifierReportPath = "artifacts/verifier_report.json"
)

// requiredPaths must be listed in artifacts and present (DG.md §1; the
// verifier report is optional).
var requiredPaths = []string{specPath, triggersPath, gateEvalsPath, decisionsPath, packetsPath, submissionsPath, toolCallsPath}

// Check is one failed integrity check (DG.md §2), as listed in a
// dg.integrity error and in the dg.runpack.integrity_anomaly payload.
type Check struct {
	Check    string `json:"check"`
	Path     string `json:"path"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
}

// The checks, in the order Read runs them.
const (
	CheckPath              = "path"               // relative, ASCII, no "..", inside the runpack
	CheckFileRead          = "file_read"          // the file exists and is a regular file
	CheckFileSize          = "file_size"          // at most MaxFileSize bytes
	CheckFileHash          = "file_hash"          // SHA-256 of the raw bytes = integrity.file_hashes entry
	CheckRootHash          = "root_hash"          // SHA-256(JCS(integrity.file_hashes)) = integrity.root_hash
	CheckArtifactHash      = "artifact_hash"      // artifacts[i].hash = the file_hashes entry of its path
	CheckSpecHash          = "spec_hash"          // spec_hash = SHA-256(JCS(scenario_spec.json))
	CheckDuplicateDecision = "duplicate_decision" // one decision per trigger_id
	CheckRequiredArtifact  = "required_artifact"  // required artifacts listed and present
	CheckUnlistedFile      = "unlisted_file"      // no file in artifacts/ outside the manifest
	CheckTriggerReference  = "trigger_reference"  // every gate evaluation names a recorded trigger
	CheckDecode            = "decode"             // Anomaly mode: an artifact that could not be decoded
)

// IntegrityError is the error of a runpack that failed its integrity check
// in Strict mode. It unwraps to a dg.integrity *errcode.Error whose message
// names every failed check on one line.
type IntegrityError struct {
	Checks []Check
	err    *errcode.Error
}

func newIntegrityError(dir string, checks []Check) *IntegrityError {
	var b strings.Builder
	fmt.Fprintf(&b, "%d integrity check", len(checks))
	if len(checks) != 1 {
		b.WriteString("s")
	}
	b.WriteString(" failed: ")
	for i, c := range listed(checks) {
		if i > 0 {
			b.WriteString("; ")
		}
		if c.Check == CheckOmitted {
			b.WriteString(c.Actual)
			break
		}
		fmt.Fprintf(&b, "%s %s: expected %s, actual %s", c.Check, showPath(c.Path), oneLine(c.Expected), oneLine(c.Actual))
	}
	return &IntegrityError{Checks: checks, err: &errcode.Error{Code: errcode.DGIntegrity, Path: dir, Msg: b.String(),
		Hint: "--integrity anomaly records the runpack anyway, with the failures in a dg.runpack.integrity_anomaly envelope"}}
}

func (e *IntegrityError) Error() string { return e.err.Error() }

// CheckOmitted stands for the failed checks beyond the first
// maxListedChecks in a message or payload.
const CheckOmitted = "omitted"

// listed returns checks, or its first maxListedChecks and one CheckOmitted
// entry counting the rest.
func listed(checks []Check) []Check {
	if len(checks) <= maxListedChecks {
		return checks
	}
	out := append([]Check(nil), checks[:maxListedChecks]...)
	return append(out, Check{Check: CheckOmitted, Path: "", Expected: "every check listed",
		Actual: strconv.Itoa(len(checks)-maxListedChecks) + " more failed checks not listed"})
}

// Unwrap returns the dg.integrity *errcode.Error.
func (e *IntegrityError) Unwrap() error { return e.err }

// showPath prints a manifest path, quoted when it is not plain ASCII.
func showPath(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] > 0x7e {
			return strconv.Quote(p)
		}
	}
	if p == "" {
		return `""`
	}
	return p
}

func oneLine(s string) string {
	if strings.ContainsAny(s, "\n\r") {
		return strconv.Quote(s)
	}
	return s
}

// file is one distinct path named by the manifest.
type file struct {
	path     string
	declared *scalar.Digest // its first integrity.file_hashes entry, if any
	artifact *Artifact      // its first artifacts entry, if any
	data     []byte         // nil when unreadable
	sum      scalar.Digest  // SHA-256 of data
}

// Runpack is a runpack read from disk: its manifest, its files, the
// failures of its integrity check and its decoded artifacts.
type Runpack struct {
	// Dir is the runpack directory as given.
	Dir      string
	Manifest *Manifest
	// ManifestSHA256 is the SHA-256 of manifest.json's raw bytes.
	ManifestSHA256 scalar.Digest

	manifestRaw []byte
	files       []*file
	byPath      map[string]*file
	checks      []Check
	decodeErrs  []error  // per artifact, in mapping order
	skipped     []string // mapped artifacts left unmapped
	srcs        [nSources]*sourceData
}

// Checks returns the failed integrity checks (DG.md §2), in order; empty
// when the runpack verified. Undecodable artifacts are not among them: see
// DecodeErrors.
func (rp *Runpack) Checks() []Check { return rp.checks }

// DecodeErrors returns the dg.malformed errors of artifacts that could not
// be decoded, one per artifact.
func (rp *Runpack) DecodeErrors() []error { return rp.decodeErrs }

// Verified reports whether every check passed and every artifact decoded.
func (rp *Runpack) Verified() bool { return len(rp.checks) == 0 && len(rp.decodeErrs) == 0 }

// Read reads the runpack at path, a runpack directory or its manifest file,
// checks its integrity and decodes its artifacts. Integrity failures and
// undecodable artifacts are recorded, not returned (see Checks,
// DecodeErrors, Map); the error is for a runpack that cannot be read at
// all: a missing directory or manifest (io.failed), a manifest over
// MaxFileSize or files over MaxRunpackSize in all (input.too_large), or a
// manifest that does not decode (dg.malformed).
func Read(path string) (*Runpack, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "open runpack", Err: pathCause(err)}
	}
	dir, name := path, ManifestPath
	if !st.IsDir() {
		dir, name = filepath.Dir(path), filepath.Base(path)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, &errcode.Error{Code: errcode.IOFailed, Path: dir, Msg: "open runpack directory", Err: pathCause(err)}
	}
	defer root.Close()

	raw, check, why := readFile(root, name)
	switch check {
	case "":
	case CheckFileSize:
		return nil, &errcode.Error{Code: errcode.InputTooLarge, Path: filepath.Join(dir, name), Msg: "manifest is " + why + "; the limit is " + strconv.Itoa(MaxFileSize)}
	default:
		return nil, &errcode.Error{Code: errcode.IOFailed, Path: filepath.Join(dir, name), Msg: "read manifest: " + why}
	}
	m, err := decodeManifest(raw)
	if err != nil {
		return nil, err
	}
	rp := &Runpack{Dir: dir, Manifest: m, ManifestSHA256: sha256.Sum256(raw), manifestRaw: raw, byPath: map[string]*file{}}
	if err := rp.readFiles(root); err != nil {
		return nil, err
	}
	rp.checkHashes()
	rp.decodeSources()
	rp.checkSpec()
	rp.checkDecisions()
	rp.checkRequired()
	rp.checkUnlisted(root)
	rp.link()
	return rp, nil
}

func (rp *Runpack) fail(check, path, expected, actual string) {
	rp.checks = append(rp.checks, Check{Check: check, Path: path, Expected: expected, Actual: actual})
}

// readFiles reads every path the manifest names (file_hashes first, then
// artifacts), checking each path and file.
func (rp *Runpack) readFiles(root *os.Root) error {
	m := rp.Manifest
	add := func(p string) *file {
		if f := rp.byPath[p]; f != nil {
			return f
		}
		f := &file{path: p}
		rp.byPath[p] = f
		rp.files = append(rp.files, f)
		return f
	}
	for i := range m.FileHashes {
		if f := add(m.FileHashes[i].Path); f.declared == nil {
			f.declared = &m.FileHashes[i].Hash
		}
	}
	for i := range m.Artifacts {
		if f := add(m.Artifacts[i].Path); f.artifact == nil {
			f.artifact = &m.Artifacts[i]
		}
	}
	total := 0
	for _, f := range rp.files {
		if why := unsafePath(f.path); why != "" {
			rp.fail(CheckPath, f.path, "a relative ASCII path inside the runpack", why)
			continue
		}
		data, check, why := readFile(root, f.path)
		switch check {
		case "":
		case CheckFileSize:
			rp.fail(CheckFileSize, f.path, "at most "+strconv.Itoa(MaxFileSize)+" bytes", why)
			continue
		case CheckPath:
			rp.fail(CheckPath, f.path, "a relative ASCII path inside the runpack", why)
			continue
		default:
			rp.fail(CheckFileRead, f.path, "a readable regular file", why)
			continue
		}
		if total += len(data); total > MaxRunpackSize {
			return &errcode.Error{Code: errcode.InputTooLarge, Path: rp.Dir, Msg: "the files of the runpack exceed " + strconv.Itoa(MaxRunpackSize) + " bytes in all"}
		}
		f.data, f.sum = data, sha256.Sum256(data)
	}
	return nil
}

// unsafePath says why a manifest path is not a plain relative path, or "".
func unsafePath(p string) string {
	switch {
	case p == "":
		return "empty"
	case len(p) > 1024:
		return "longer than 1024 bytes"
	case p[0] == '/':
		return "absolute"
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] > 0x7e {
			return "not printable ASCII"
		}
		if p[i] == '\\' {
			return "contains a backslash"
		}
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return "has an empty segment"
		case ".":
			return "has a . segment"
		case "..":
			return "has a .. segment"
		}
	}
	return ""
}

// readFile reads name inside root, at most MaxFileSize bytes. On failure it
// returns the check that failed (CheckPath, CheckFileRead, CheckFileSize)
// and why.
func readFile(root *os.Root, name string) (data []byte, check, why string) {
	f, err := root.Open(name)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, CheckFileRead, "missing"
		case escapes(err):
			return nil, CheckPath, "escapes the runpack directory (symlink)"
		}
		return nil, CheckFileRead, "cannot open: " + pathCause(err).Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, CheckFileRead, "cannot stat: " + pathCause(err).Error()
	}
	if !st.Mode().IsRegular() {
		return nil, CheckFileRead, "not a regular file"
	}
	if st.Size() > MaxFileSize {
		return nil, CheckFileSize, strconv.FormatInt(st.Size(), 10) + " bytes"
	}
	// Read into a buffer of the stated size (plus one byte to see growth),
	// still bounded by the limit whatever the file does meanwhile.
	buf := bytes.NewBuffer(make([]byte, 0, st.Size()+1))
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return nil, CheckFileRead, "cannot read: " + pathCause(err).Error()
	}
	data = buf.Bytes()
	if len(data) > MaxFileSize {
		return nil, CheckFileSize, "more than " + strconv.Itoa(MaxFileSize) + " bytes"
	}
	return data, "", ""
}

// escapes reports whether err is os.Root refusing a path that leaves the
// root, lexically or through a symlink. os.Root does not export that error,
// so its text is matched.
func escapes(err error) bool { return strings.Contains(err.Error(), "path escapes from parent") }

func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkHashes runs checks 4-6: file hashes, the root hash, artifact hashes.
func (rp *Runpack) checkHashes() {
	m := rp.Manifest
	for _, fh := range m.FileHashes {
		f := rp.byPath[fh.Path]
		if f.data != nil && f.sum != fh.Hash {
			rp.fail(CheckFileHash, fh.Path, fh.Hash.Hex(), f.sum.Hex())
		}
	}
	if root := scalar.Sum(m.fileHashesJCS); root != m.RootHash {
		rp.fail(CheckRootHash, ManifestPath, m.RootHash.Hex(), root.Hex())
	}
	for _, a := range m.Artifacts {
		f := rp.byPath[a.Path]
		switch {
		case f.declared == nil:
			rp.fail(CheckArtifactHash, a.Path, a.Hash.Hex(), "no integrity.file_hashes entry")
		case *f.declared != a.Hash:
			rp.fail(CheckArtifactHash, a.Path, f.declared.Hex(), a.Hash.Hex())
		}
	}
}

// checkSpec runs check 7: spec_hash is the hash of the scenario spec's JCS
// form (DG hashes the spec's canonical JSON; the file is that JSON, so this
// is also its raw-byte hash).
func (rp *Runpack) checkSpec() {
	want := rp.Manifest.SpecHash.Hex()
	f := rp.byPath[specPath]
	var actual string
	switch {
	case f == nil:
		actual = "not listed in the manifest"
	case f.data == nil:
		actual = "unreadable"
	default:
		var c canonical.Canonicalizer
		canon, err := newDecoder(specPath).parse(&c, f.data)
		if err != nil {
			actual = "not valid JSON"
			break
		}
		if got := scalar.Sum(canon); got != rp.Manifest.SpecHash {
			actual = got.Hex()
		}
	}
	if actual != "" {
		rp.fail(CheckSpecHash, specPath, want, actual)
	}
}

// checkDecisions runs check 8: one decision per trigger.
func (rp *Runpack) checkDecisions() {
	sd := rp.srcs[srcDecisions]
	if sd == nil {
		return
	}
	first := map[string]int{}
	for _, r := range sd.recs {
		if j, ok := first[r.triggerID]; ok {
			rp.fail(CheckDuplicateDecision, decisionsPath, "one decision per trigger_id",
				fmt.Sprintf("$[%d] and $[%d] both decide trigger_id %s", j, r.index, abbrev(strconv.Quote(r.triggerID))))
			continue
		}
		first[r.triggerID] = r.index
	}
}

// checkRequired runs the first half of check 9: required artifacts are
// listed and present.
func (rp *Runpack) checkRequired() {
	const want = "listed in artifacts and present"
	missing := func(f *file) string {
		switch {
		case f == nil || f.artifact == nil:
			return "not listed in artifacts"
		case f.data == nil:
			return "unreadable"
		}
		return ""
	}
	seen := map[string]bool{}
	for _, p := range requiredPaths {
		seen[p] = true
		if why := missing(rp.byPath[p]); why != "" {
			rp.fail(CheckRequiredArtifact, p, want, why)
		}
	}
	for _, a := range rp.Manifest.Artifacts {
		if a.Required && !seen[a.Path] {
			seen[a.Path] = true
			if why := missing(rp.byPath[a.Path]); why != "" {
				rp.fail(CheckRequiredArtifact, a.Path, want, why)
			}
		}
	}
}

// checkUnlisted runs the second half of check 9: files under artifacts/
// that the manifest does not name.
func (rp *Runpack) checkUnlisted(root *os.Root) {
	n := 0
	err := fs.WalkDir(root.FS(), "artifacts", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "artifacts" && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			rp.fail(CheckUnlistedFile, p, "listed in the manifest", "cannot be listed: "+pathCause(err).Error())
			return nil
		}
		if n++; n > maxWalk {
			rp.fail(CheckUnlistedFile, "artifacts", "listed in the manifest", "more than "+strconv.Itoa(maxWalk)+" entries; the rest were not examined")
			return fs.SkipAll
		}
		if d.IsDir() {
			return nil
		}
		if rp.byPath[p] == nil {
			rp.fail(CheckUnlistedFile, p, "listed in the manifest", "present, not listed")
		}
		return nil
	})
	if err != nil {
		rp.fail(CheckUnlistedFile, "artifacts", "listed in the manifest", "cannot be listed: "+pathCause(err).Error())
	}
}
