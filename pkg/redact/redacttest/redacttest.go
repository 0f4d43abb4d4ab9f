// Package redacttest checks redacted records against their originals, for
// the tests of the adapters that redact (pkg/dg, pkg/openclaw): what the
// holder of an original can prove from an envelope.
package redacttest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/redact"
)

// Markers walks orig, a record decoded with json.Number, and got, its
// redacted form decoded the same way. It fails t at every marker whose
// sha256 and bytes are not those of the JCS form of the value it replaced,
// and at every other difference (scalars compared in JCS form), and
// returns the markers' paths written in syntax, sorted: what the
// redactions list must say. Paths are rendered here, not by pkg/redact.
func Markers(t testing.TB, syntax redact.Syntax, orig, got any) []string {
	t.Helper()
	root := "$"
	if syntax == redact.Pointer {
		root = ""
	}
	w := walker{t: t, syntax: syntax}
	w.walk(root, orig, got)
	sort.Strings(w.paths)
	return w.paths
}

// SHA256 is the hex SHA-256 of the JCS form of v.
func SHA256(t testing.TB, v any) string {
	t.Helper()
	s := sha256.Sum256(jcs(t, v))
	return hex.EncodeToString(s[:])
}

func jcs(t testing.TB, v any) []byte {
	t.Helper()
	b, err := canonical.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type walker struct {
	t      testing.TB
	syntax redact.Syntax
	paths  []string
}

var ident = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (w *walker) member(path, key string) string {
	switch {
	case w.syntax == redact.Pointer:
		return path + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
	case ident.MatchString(key):
		return path + "." + key
	}
	return path + "[" + string(canonical.AppendString(nil, key)) + "]"
}

func (w *walker) element(path string, i int) string {
	if w.syntax == redact.Pointer {
		return path + "/" + strconv.Itoa(i)
	}
	return path + "[" + strconv.Itoa(i) + "]"
}

func isMarker(v any) bool {
	m, ok := v.(map[string]any)
	return ok && (m["redacted"] == true || m["truncated"] == true) && m["sha256"] != nil
}

func (w *walker) walk(path string, orig, got any) {
	t := w.t
	t.Helper()
	if isMarker(got) && !isMarker(orig) {
		m := got.(map[string]any)
		b := jcs(t, orig)
		if m["sha256"] != SHA256(t, orig) || m["bytes"] != json.Number(strconv.Itoa(len(b))) {
			t.Errorf("%s: marker %v does not match the original (%d bytes, %s)", path, m, len(b), SHA256(t, orig))
		}
		w.paths = append(w.paths, path)
		return
	}
	switch o := orig.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(o) {
			t.Errorf("%s: %v became %v", path, orig, got)
			return
		}
		for k, v := range o {
			w.walk(w.member(path, k), v, g[k])
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(o) {
			t.Errorf("%s: %v became %v", path, orig, got)
			return
		}
		for i := range o {
			w.walk(w.element(path, i), o[i], g[i])
		}
	default: // in JCS form: 4e-05 is 0.00004
		if !bytes.Equal(jcs(t, orig), jcs(t, got)) {
			t.Errorf("%s: %v became %v", path, orig, got)
		}
	}
}
