package dg

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/internal/fuzzinput"
	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/evidence"
)

// FuzzManifest: the manifest decoder never panics; what it accepts it
// accepts again in canonical form, with the same meaning, and its metadata
// object is canonical. Inputs are edits of the golden manifests
// (fuzzinput.Edit) and arbitrary bytes.
func FuzzManifest(f *testing.F) {
	var bases [][]byte
	for _, name := range goldenRunpacks {
		b, err := os.ReadFile(filepath.Join(runpackDir(name), "manifest.json"))
		if err != nil {
			f.Fatal(err)
		}
		bases = append(bases, b, bytes.Replace(b, []byte(`"value":10}`), []byte(`"value":1.5}`), 1),
			bytes.Replace(b, []byte(`"logical"`), []byte(`"unix_millis"`), 1))
	}
	for i := range bases {
		f.Add([]byte{}, uint8(i), uint16(0), uint8(0))
	}
	f.Add([]byte(`{"manifest_version":"v1"}`), uint8(fuzzinput.Raw), uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, patch []byte, base uint8, at uint16, cut uint8) {
		raw := fuzzinput.Edit(bases, base, at, cut, patch)
		m, err := decodeManifest(raw)
		if err != nil {
			return
		}
		if !canonical.IsCanonical(m.meta) || !canonical.IsCanonical(m.fileHashesJCS) {
			t.Fatalf("metadata not canonical: %s", m.meta)
		}
		m2, err := decodeManifest(m.canon)
		if err != nil {
			t.Fatalf("canonical form rejected: %v", err)
		}
		if m2.RootHash != m.RootHash || m2.TenantID != m.TenantID || m2.RunID != m.RunID ||
			len(m2.FileHashes) != len(m.FileHashes) || len(m2.Artifacts) != len(m.Artifacts) ||
			!bytes.Equal(m2.meta, m.meta) || m2.generatedAt.raw != m.generatedAt.raw {
			t.Fatal("canonical form decodes differently")
		}
		if _, err := m.generatedAt.instant(mustTime("2026-01-01T00:00:00Z")); err != nil && m.generatedAt.logical && m.generatedAt.value < 1e12 {
			t.Fatalf("instant: %v", err)
		}
	})
}

// FuzzArtifact: the artifact decoders never panic; accepted records are
// canonical, the canonical file decodes to the same records, and
// redaction of each record yields canonical JSON.
func FuzzArtifact(f *testing.F) {
	for _, name := range goldenRunpacks {
		for _, s := range sources {
			b, err := os.ReadFile(filepath.Join(runpackDir(name), filepath.FromSlash(s.path)))
			if err != nil {
				f.Fatal(err)
			}
			for i := range sources {
				f.Add(uint8(i), b)
			}
		}
	}
	f.Add(uint8(0), []byte(`[{"seq":1.0,"event":{}}]`))
	f.Add(uint8(5), []byte(`[{"call_id":"c","method":"scenario.trigger","called_at":{"kind":"unix_millis","value":-5},"request_hash":{"algorithm":"sha256","value":"00"},"response_hash":{},"error":{"details":{"token":"x"}}}]`))
	pol := mustPolicy(f, PolicyConfig{MaxString: 8, Paths: []string{"$..*[0]", "$..value"}})
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		s := &sources[int(which)%nSources]
		var c canonical.Canonicalizer
		sd, err := decodeSource(&c, s, &file{path: s.path, data: raw})
		if err != nil {
			return
		}
		canon, err := canonical.Transform(raw)
		if err != nil {
			t.Fatalf("accepted input that is not strict JSON: %v", err)
		}
		sd2, err := decodeSource(&c, s, &file{path: s.path, data: canon})
		if err != nil {
			t.Fatalf("canonical form rejected: %v", err)
		}
		if len(sd.recs) != len(sd2.recs) {
			t.Fatal("canonical form has other records")
		}
		red := pol.Redactor()
		for i, r := range sd.recs {
			if r.canon != sd2.recs[i].canon || r.seq != sd2.recs[i].seq || r.time.raw != sd2.recs[i].time.raw {
				t.Fatalf("record %d decodes differently in canonical form", i)
			}
			if !canonical.IsCanonical([]byte(r.canon)) {
				t.Fatalf("record %d not canonical: %s", i, r.canon)
			}
			out, _ := red.Redact(s.name, r.canon)
			if !canonical.IsCanonical(out) {
				t.Fatalf("redacted record not canonical: %s", out)
			}
			if r.hasTime {
				r.time.instant(mustTime("2026-01-01T00:00:00Z")) // must not panic
			}
		}
	})
}

// FuzzTranscript: the transcript decoder never panics, and whatever it
// accepts maps to lines that are canonical unsealed envelopes. Inputs are
// edits of the golden transcript (fuzzinput.Edit) and arbitrary bytes.
func FuzzTranscript(f *testing.F) {
	b, err := os.ReadFile(transcriptPath)
	if err != nil {
		f.Fatal(err)
	}
	bases := [][]byte{b, []byte(`[{"error":null,"method":"m","request":{"params":{"name":"x","arguments":{"a":1}}},"response":{},"sequence":9007199254740992}]`)}
	for i := range bases {
		f.Add([]byte{}, uint8(i), uint16(0), uint8(0))
	}
	dec := evidence.NewDecoder(evidence.DefaultLimits)
	f.Fuzz(func(t *testing.T, patch []byte, base uint8, at uint16, cut uint8) {
		raw := fuzzinput.Edit(bases, base, at, cut, patch)
		tr, err := decodeTranscript("t.json", raw)
		if err != nil {
			return
		}
		_, _, err = emitAll(func(e Emit) (Stats, error) {
			return tr.Map(Config{}, func(r evidence.Record) error {
				l := r.AppendJCS(nil)
				if !canonical.IsCanonical(l) {
					t.Fatalf("line not canonical: %s", l)
				}
				if _, err := dec.Sealed(l); err != nil {
					t.Fatalf("line does not decode: %v\n%s", err, l)
				}
				return e(r)
			})
		})
		if err != nil && !bytes.Contains([]byte(err.Error()), []byte("dg.malformed")) {
			t.Fatalf("Map: %v", err)
		}
	})
}
