package openclaw

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/openclaw/internal/capturegen"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/stream"
	"github.com/google/go-cmp/cmp"
)

// generated are the captures testdata/openclaw keeps from capturegen.
var generated = []struct {
	file string
	cfg  capturegen.Config
}{
	{"capture.frames.ndjson", capturegen.Config{Runs: 3}},
	{"capture.payloads.ndjson", capturegen.Config{Runs: 3, Payloads: true}},
}

// TestGenerated: the generated captures in testdata are what capturegen
// writes (-update rewrites them).
func TestGenerated(t *testing.T) {
	for _, g := range generated {
		var b bytes.Buffer
		if _, err := capturegen.Write(&b, g.cfg); err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(inputPath(g.file), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if !bytes.Equal(b.Bytes(), readInput(t, g.file)) {
			t.Errorf("%s differs from what capturegen writes; regenerate with -update", g.file)
		}
	}
}

// goldens are the inputs with golden outputs in testdata/golden.
var goldens = []struct {
	golden, input string
	cfg           Config
}{
	{"capture.frames.ndjson", "capture.frames.ndjson", Config{}},
	{"capture.payloads.ndjson", "capture.payloads.ndjson", Config{Format: Payloads}},
	{"pi-mono-v1-large-session.head10.ndjson", "pi-mono-v1-large-session.head10.jsonl", Config{Format: Transcript}},
	{"pi-mono-v1-before-compaction.ndjson", "pi-mono-v1-before-compaction.lines1_629-642.jsonl", Config{Format: Transcript}},
	{"v2-session.ndjson", "v2-session.jsonl", Config{Format: Transcript}},
	{"v3-session.ndjson", "v3-session.jsonl", Config{Format: Transcript,
		SessionKey: scalar.MustLabel("agent:main:webchat:dm:user-00"), Environment: scalar.MustLabel("prod")}},
}

// TestGolden: each input maps to exactly its golden output (-update
// rewrites them; review the diff), and every line is an unsealed envelope
// in canonical form that arxi-seal accepts.
func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.golden, func(t *testing.T) {
			out := mustRun(t, readInput(t, g.input), g.cfg)
			path := filepath.Join("testdata", "golden", g.golden)
			if *update {
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("output differs from %s; regenerate with -update and review the diff", path)
			}
			checkEnvelopes(t, out)
		})
	}
}

// checkEnvelopes checks that every line is the canonical form of an
// unsealed envelope, as arxi-seal reads it, with unique ids.
func checkEnvelopes(t *testing.T, out []byte) {
	t.Helper()
	r := stream.NewReader(bytes.NewReader(out), stream.Unsealed, evidence.Limits{})
	ids := map[scalar.UUID]bool{}
	for _, l := range bytes.SplitAfter(out, []byte("\n")) {
		if len(l) == 0 {
			break
		}
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !canonical.IsCanonical(bytes.TrimSuffix(l, []byte("\n"))) {
			t.Fatalf("line %d is not canonical", r.Line())
		}
		u := rec.(*evidence.Unsealed)
		if u.EnvelopeID.IsZero() || ids[u.EnvelopeID] {
			t.Fatalf("line %d: envelope id %v missing or repeated", r.Line(), u.EnvelopeID)
		}
		ids[u.EnvelopeID] = true
	}
}

// TestDeterministic: the same capture maps to the same bytes, from two
// reads and from two maps of one read.
func TestDeterministic(t *testing.T) {
	for _, g := range goldens {
		in := readInput(t, g.input)
		a, c, err := mapCapture(t, in, g.cfg)
		if err != nil {
			t.Fatal(err)
		}
		b := mustRun(t, in, g.cfg)
		var again bytes.Buffer
		if _, err := c.Map(t.Context(), func(r evidence.Record) error {
			again.Write(append(r.AppendJCS(nil), '\n'))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) || !bytes.Equal(a, again.Bytes()) {
			t.Errorf("%s: two runs differ", g.input)
		}
	}
}

// TestTwoRecorders: a frame capture and a bare payload capture of the
// same events give every event the same envelope id and claimed_at.
func TestTwoRecorders(t *testing.T) {
	ids := func(out []byte) []string {
		var s []string
		for _, m := range lines(t, out) {
			s = append(s, m["envelope_id"].(string)+" "+m["claimed_at"].(string)+" "+m["event_type"].(string))
		}
		return s
	}
	frames := mustRun(t, readInput(t, "capture.frames.ndjson"), Config{})
	payloads := mustRun(t, readInput(t, "capture.payloads.ndjson"), Config{Format: Payloads})
	if diff := cmp.Diff(ids(frames), ids(payloads)); diff != "" {
		t.Errorf("ids (-frames +payloads):\n%s", diff)
	}
}

// TestV3FixtureMessage: line 5 of v3-session.jsonl carries the real
// assistant message fixture, unchanged in meaning.
func TestV3FixtureMessage(t *testing.T) {
	fixture, err := canonical.Transform(readInput(t, "pi-mono-assistant-message-with-thinking.json"))
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.Split(readInput(t, "v3-session.jsonl"), []byte("\n"))[4]
	entry, err := canonical.Transform(line)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(entry, append(append([]byte(`"message":`), fixture...), ',')) {
		t.Error("line 5's message is not the fixture")
	}
}
