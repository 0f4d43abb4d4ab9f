package openclaw

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/fuzzinput"
	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"
)

// seedLines returns every line of the named inputs, and the extra lines,
// as the fixtures of a line target (fuzzinput.Edit), each added to f
// unedited.
func seedLines(f *testing.F, extra []string, names ...string) [][]byte {
	var bases [][]byte
	for _, n := range names {
		bases = append(bases, bytes.Split(bytes.TrimSuffix(readInput(f, n), []byte("\n")), []byte("\n"))...)
	}
	for _, l := range extra {
		bases = append(bases, []byte(l))
	}
	if len(bases) >= fuzzinput.Raw {
		f.Fatalf("%d seed lines: at most %d", len(bases), fuzzinput.Raw-1)
	}
	for i := range bases {
		f.Add([]byte{}, uint8(i), uint16(0), uint8(0))
	}
	return bases
}

// checkDecodeError fails unless err is an input error naming a path or a
// code that needs none.
func checkDecodeError(t *testing.T, err error) {
	e, ok := errcode.As(err)
	if !ok || errcode.ExitStatus(err) != errcode.ExitRejected {
		t.Fatalf("error %v is not a rejected-input error", err)
	}
	empty := e.Code == errcode.InputMissingField && strings.HasPrefix(e.Msg, "empty transcript")
	if e.Field == "" && e.Code != errcode.InputMalformedJSON && e.Code != errcode.InputTooLarge && !empty {
		t.Fatalf("error %v names no path", err)
	}
}

// sameEvent compares the decoded fields of two events.
func sameEvent(a, b *event) bool {
	return a.runID == b.runID && a.seq == b.seq && a.hasSeq == b.hasSeq && a.stream == b.stream && a.phase == b.phase &&
		a.hasPhase == b.hasPhase && a.ts == b.ts && a.sessionKey == b.sessionKey && a.actor == b.actor &&
		a.toolCallID == b.toolCallID && a.toolName == b.toolName && a.notice == b.notice && bytes.Equal(a.raw, b.raw)
}

// FuzzFrame: the frame decoder never panics and refuses with an input
// error naming a path; an agent event it accepts carries its payload in
// canonical form, which decodes as a bare payload to the same event, and
// which the redactor turns into canonical JSON.
func FuzzFrame(f *testing.F) {
	bases := seedLines(f, []string{`{"type":"event","event":"agent","payload":{"runId":"r","stream":"error","ts":1,"data":{"reason":"seq gap","expected":1,"received":3}}}`},
		"capture.frames.ndjson")
	d, d2 := newDecoder(), newDecoder()
	red := DefaultPolicy().Redactor()
	f.Fuzz(func(t *testing.T, patch []byte, base uint8, at uint16, cut uint8) {
		line := fuzzinput.Edit(bases, base, at, cut, patch)
		var ev, ev2 event
		kind, _, _, err := d.frame(line, &ev)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		if kind != frameAgent {
			return
		}
		if !canonical.IsCanonical(ev.raw) {
			t.Fatalf("payload not canonical: %s", ev.raw)
		}
		if want, _ := canonical.Transform([]byte(gjson.GetBytes(line, "payload").Raw)); !bytes.Equal(want, ev.raw) {
			t.Fatalf("payload %s, want %s", ev.raw, want)
		}
		if err := d2.payload(ev.raw, &ev2); err != nil || !sameEvent(&ev, &ev2) {
			t.Fatalf("the canonical payload decodes differently: %v\n%+v\n%+v", err, ev, ev2)
		}
		if out, _ := red.Redact(sourceAgent, string(ev.raw)); !canonical.IsCanonical(out) {
			t.Fatalf("redacted payload not canonical: %s", out)
		}
	})
}

// FuzzPayload: the bare payload decoder never panics and refuses with an
// input error naming a path; what it accepts decodes again from its
// canonical form to the same event.
func FuzzPayload(f *testing.F) {
	bases := seedLines(f, []string{`{"runId":"r","seq":1.0,"stream":"x","ts":1,"data":{}}`}, "capture.payloads.ndjson")
	d, d2 := newDecoder(), newDecoder()
	f.Fuzz(func(t *testing.T, patch []byte, base uint8, at uint16, cut uint8) {
		line := fuzzinput.Edit(bases, base, at, cut, patch)
		var ev, ev2 event
		if err := d.payload(line, &ev); err != nil {
			checkDecodeError(t, err)
			return
		}
		if err := d2.payload(bytes.Clone(ev.raw), &ev2); err != nil || !sameEvent(&ev, &ev2) {
			t.Fatalf("the canonical payload decodes differently: %v\n%+v\n%+v", err, ev, ev2)
		}
	})
}

// FuzzTranscript: the transcript line decoder (a header, then an entry of
// each version) never panics and refuses with an input error naming a
// path; what it accepts decodes again from its canonical form to the same
// entry.
func FuzzTranscript(f *testing.F) {
	bases := seedLines(f, nil, "v3-session.jsonl", "v2-session.jsonl", "pi-mono-v1-before-compaction.lines1_629-642.jsonl")
	d := newDecoder()
	f.Fuzz(func(t *testing.T, patch []byte, base uint8, at uint16, cut uint8) {
		line := fuzzinput.Edit(bases, base, at, cut, patch)
		for _, version := range []uint64{0, 1, 2, 3} {
			if err := d.parse(line, false); err != nil {
				checkDecodeError(t, err)
				return
			}
			canon := string(d.buf)
			var e, e2 entry
			st, st2 := transcriptState{version: version}, transcriptState{version: version}
			if err := d.transcriptLine(string(line), canon, &st, &e); err != nil {
				checkDecodeError(t, err)
				continue
			}
			if err := d.transcriptLine(canon, canon, &st2, &e2); err != nil {
				t.Fatalf("the canonical line is refused: %v", err)
			}
			for i := range e.calls {
				e.calls[i].canon = e2.calls[i].canon // as written, and canonical
			}
			if diff := cmp.Diff(e, e2, cmp.AllowUnexported(entry{}, blockCall{}), cmp.Comparer(func(a, b scalar.Timestamp) bool { return a == b })); diff != "" || st != st2 {
				t.Fatalf("the canonical line decodes differently:\n%s", diff)
			}
			for _, b := range e2.calls {
				if !canonical.IsCanonical([]byte(b.canon)) {
					t.Fatalf("tool call block not canonical: %s", b.canon)
				}
			}
		}
	})
}

// FuzzCapture: a whole capture read and mapped, in each format and policy,
// never panics, and what it writes are canonical unsealed envelopes.
// Inputs are edits of real captures (fuzzinput.Edit) and arbitrary bytes.
func FuzzCapture(f *testing.F) {
	var bases [][]byte
	for _, n := range []string{"capture.frames.ndjson", "v2-session.jsonl"} {
		in := readInput(f, n)
		bases = append(bases, in[:min(len(in), 4000)])
	}
	bases = append(bases, ndjson(seqs("r", 1, 3, 2, 2)...))
	for i, mode := range []uint8{0, 0, 4} {
		f.Add([]byte{}, mode, uint8(i), uint16(0), uint8(0))
	}
	dir := f.TempDir()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, patch []byte, mode uint8, base uint8, at uint16, cut uint8) {
		in := fuzzinput.Edit(bases, base, at, cut, patch)
		cfg := Config{Format: Format(mode % 3), Sequence: Mode(mode / 3 % 2), RequirePaired: mode&8 != 0, FrameSeq: mode&16 != 0, TempDir: dir}
		c, err := Read(ctx, bytes.NewReader(in), cfg)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		defer c.Close()
		_, err = c.Map(ctx, func(r evidence.Record) error {
			line := r.AppendJCS(nil)
			if _, _, err := evidence.NewDecoder(evidence.DefaultLimits).Unsealed(nil, line); err != nil || !canonical.IsCanonical(line) {
				t.Fatalf("bad envelope %s: %v", line, err)
			}
			return nil
		})
		if err != nil && errcode.ExitStatus(err) != errcode.ExitInvalid {
			t.Fatalf("Map: %v", err)
		}
	})
}
