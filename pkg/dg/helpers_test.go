package dg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/evidence"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenRunpacks are the real runpacks of testdata/dg (see its README).
var goldenRunpacks = []string{"golden_time_after_pass", "golden_visibility_packet"}

func runpackDir(name string) string { return filepath.Join("..", "..", "testdata", "dg", name) }

// mapLines maps the runpack at path and returns the NDJSON written, as
// arxi-dg writes it.
func mapLines(t testing.TB, path string, cfg Config) ([]byte, Stats, error) {
	t.Helper()
	rp, err := Read(path)
	if err != nil {
		return nil, Stats{}, err
	}
	return emitAll(func(e Emit) (Stats, error) { return rp.Map(cfg, e) })
}

func emitAll(f func(Emit) (Stats, error)) ([]byte, Stats, error) {
	var out bytes.Buffer
	st, err := f(func(r evidence.Record) error {
		out.Write(r.AppendJCS(nil))
		out.WriteByte('\n')
		return nil
	})
	return out.Bytes(), st, err
}

// lines splits NDJSON into decoded objects.
func lines(t testing.TB, ndjson []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSuffix(ndjson, []byte("\n")), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(l))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("line %s: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// envelopes returns the unsealed envelopes of NDJSON output (skipping
// attachment records).
func envelopes(t testing.TB, ndjson []byte) []map[string]any {
	var out []map[string]any
	for _, m := range lines(t, ndjson) {
		if m["record"] == "unsealed" {
			out = append(out, m)
		}
	}
	return out
}

// copyRunpack copies a golden runpack into a temporary directory.
func copyRunpack(t testing.TB, name string) string {
	t.Helper()
	src := runpackDir(name)
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// readJSON decodes a JSON file keeping numbers exact.
func readJSON(t testing.TB, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// writeJCS writes v as JCS, the way DG writes its files.
func writeJCS(t testing.TB, path string, v any) {
	t.Helper()
	b, err := canonical.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// editJSON rewrites the JSON file at dir/rel through f.
func editJSON(t testing.TB, dir, rel string, f func(v any) any) {
	t.Helper()
	p := filepath.Join(dir, rel)
	writeJCS(t, p, f(readJSON(t, p)))
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// rehash makes the manifest consistent with the files on disk again: file
// hashes, artifact hashes, the spec hash and the root hash, so that a test
// can break exactly one check.
func rehash(t testing.TB, dir string) {
	t.Helper()
	editJSON(t, dir, "manifest.json", func(v any) any {
		m := v.(map[string]any)
		sum := func(rel string) (string, bool) {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
			if err != nil {
				return "", false
			}
			return hexSum(b), true
		}
		integ := m["integrity"].(map[string]any)
		for _, e := range integ["file_hashes"].([]any) {
			e := e.(map[string]any)
			if s, ok := sum(e["path"].(string)); ok {
				e["hash"].(map[string]any)["value"] = s
			}
		}
		for _, e := range m["artifacts"].([]any) {
			e := e.(map[string]any)
			if s, ok := sum(e["path"].(string)); ok {
				e["hash"].(map[string]any)["value"] = s
			}
		}
		if s, ok := sum("artifacts/scenario_spec.json"); ok {
			m["spec_hash"].(map[string]any)["value"] = s
		}
		fh, err := canonical.Marshal(integ["file_hashes"])
		if err != nil {
			t.Fatal(err)
		}
		integ["root_hash"].(map[string]any)["value"] = hexSum(fh)
		return m
	})
}

// payload returns an envelope's payload object.
func payload(m map[string]any) map[string]any { return m["payload"].(map[string]any) }
