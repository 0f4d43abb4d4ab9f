package openclaw

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

var update = flag.Bool("update", false, "rewrite the generated captures and the golden files")

// inputPath is in the repository's testdata/openclaw (see its README).
func inputPath(name string) string { return filepath.Join("..", "..", "testdata", "openclaw", name) }

func readInput(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(inputPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mapCapture reads and maps a capture and returns the NDJSON written, as
// arxi-openclaw writes it, and the capture.
func mapCapture(t testing.TB, in []byte, cfg Config) ([]byte, *Capture, error) {
	t.Helper()
	cfg.TempDir = t.TempDir()
	c, err := Read(context.Background(), bytes.NewReader(in), cfg)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { c.Close() })
	var out bytes.Buffer
	_, err = c.Map(context.Background(), func(r evidence.Record) error {
		out.Write(r.AppendJCS(nil))
		out.WriteByte('\n')
		return nil
	})
	return out.Bytes(), c, err
}

// mustRun is mapCapture that fails t on an error.
func mustRun(t testing.TB, in []byte, cfg Config) []byte {
	t.Helper()
	out, _, err := mapCapture(t, in, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
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

func payload(m map[string]any) map[string]any { return m["payload"].(map[string]any) }

// ndjson joins lines, each ended by a newline.
func ndjson(ls ...string) []byte {
	var b bytes.Buffer
	for _, l := range ls {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func mustTime(t testing.TB, s string) scalar.Timestamp {
	t.Helper()
	ts, err := scalar.ParseTimestamp(s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
