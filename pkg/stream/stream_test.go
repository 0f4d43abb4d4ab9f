package stream

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"arxi.dev/arxi/internal/fuzzinput"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
)

func TestLineReader(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		max   int
		lines []string
		code  errcode.Code
		line  int64
	}{
		{name: "two lines", in: "a\nbb\n", max: 10, lines: []string{"a", "bb"}},
		{name: "empty input", in: "", max: 10},
		{name: "exactly at limit", in: "12345\n", max: 5, lines: []string{"12345"}},
		{name: "one over limit", in: "ok\n123456\n", max: 5, lines: []string{"ok"}, code: errcode.InputTooLarge, line: 2},
		{name: "blank line", in: "a\n\nb\n", max: 10, lines: []string{"a"}, code: errcode.InputMalformedJSON, line: 2},
		{name: "whitespace line", in: "a\n \t\r\n", max: 10, lines: []string{"a"}, code: errcode.InputMalformedJSON, line: 2},
		{name: "no final newline", in: "a\nb", max: 10, lines: []string{"a"}, code: errcode.InputMalformedJSON, line: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lr := NewLineReader(strings.NewReader(tc.in), tc.max)
			var got []string
			var err error
			for {
				var l []byte
				l, err = lr.Next()
				if err != nil {
					break
				}
				got = append(got, string(l))
			}
			if strings.Join(got, "|") != strings.Join(tc.lines, "|") {
				t.Errorf("lines = %q, want %q", got, tc.lines)
			}
			if tc.code == "" {
				if err != io.EOF {
					t.Errorf("end error = %v, want io.EOF", err)
				}
				return
			}
			e, ok := errcode.As(err)
			if !ok || e.Code != tc.code || e.Line != tc.line {
				t.Errorf("error = %v, want %s at line %d", err, tc.code, tc.line)
			}
			if _, again := lr.Next(); again != err {
				t.Errorf("error is not sticky: %v", again)
			}
		})
	}
}

// TestLineReaderLongLines crosses the bufio buffer boundary, where lines are
// assembled from several chunks.
func TestLineReaderLongLines(t *testing.T) {
	long := strings.Repeat("x", 200_000)
	lr := NewLineReader(iotest.OneByteReader(strings.NewReader(long+"\nend\n")), 300_000)
	l, err := lr.Next()
	if err != nil || string(l) != long {
		t.Fatalf("long line: %d bytes, %v", len(l), err)
	}
	if l, err := lr.Next(); err != nil || string(l) != "end" {
		t.Fatalf("after long line: %q, %v", l, err)
	}
	lr = NewLineReader(strings.NewReader(long+"\n"), 100_000)
	if _, err := lr.Next(); !errors.Is(err, errcode.InputTooLarge) {
		t.Fatalf("over-long line: %v", err)
	}
}

func TestLineReaderIOError(t *testing.T) {
	lr := NewLineReader(iotest.ErrReader(errors.New("disk on fire")), 10)
	if _, err := lr.Next(); !errors.Is(err, errcode.IOFailed) {
		t.Fatalf("error = %v, want %s", err, errcode.IOFailed)
	}
	// A typed error from the reader keeps its code and gains the line.
	typed := io.MultiReader(strings.NewReader("ok\n"), iotest.ErrReader(errcode.New(errcode.InputZstd, "corrupt frame")))
	lr = NewLineReader(typed, 10)
	lr.Next()
	_, err := lr.Next()
	if e, ok := errcode.As(err); !ok || e.Code != errcode.InputZstd || e.Line != 2 {
		t.Fatalf("error = %v, want %s at line 2", err, errcode.InputZstd)
	}
}

func vector(t testing.TB) []byte {
	b, err := os.ReadFile("../../testdata/vectors/seal-basic.expected.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealedReader(t *testing.T) {
	data := vector(t)
	r := NewReader(bytes.NewReader(data), Sealed, evidence.Limits{})
	var out bytes.Buffer
	w := NewWriter(&out)
	var g Grammar
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Next(rec.Kind()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.Raw(), rec.AppendJCS(nil)) {
			t.Errorf("line %d: Raw differs from the record's encoding", r.Line())
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.End(); err != nil || !g.Sealed() {
		t.Errorf("grammar at end: %v sealed=%v", err, g.Sealed())
	}
	w.Flush()
	if !bytes.Equal(out.Bytes(), data) {
		t.Errorf("read-write round trip changed the stream")
	}
}

func TestReaderRejects(t *testing.T) {
	data := vector(t)
	lines := strings.SplitAfter(string(data), "\n")
	unsealed := `{"event_type":"a","actor_id":"a","environment_id":"e","adapter_id":"x","claimed_at":"2026-11-22T10:00:00Z","payload":1}` + "\n"
	for _, tc := range []struct {
		name string
		mode Mode
		in   string
		code errcode.Code
		line int64
	}{
		{"non-canonical sealed line", Sealed, lines[0] + strings.Replace(lines[1], `{"actor_id"`, `{ "actor_id"`, 1), errcode.InputNotCanonical, 2},
		{"reordered keys", Sealed, `{"record":"seal","envelope_count":0}` + "\n", errcode.InputNotCanonical, 1},
		{"crlf sealed", Sealed, strings.TrimSuffix(lines[0], "\n") + "\r\n", errcode.InputNotCanonical, 1},
		{"unsealed in sealed stream", Sealed, lines[0] + `{"actor_id":"a","adapter_id":"x","claimed_at":"2026-11-22T10:00:00Z","environment_id":"e","event_type":"a","payload":1}` + "\n", errcode.InputUnexpectedRecord, 2},
		{"genesis in unsealed input", Unsealed, unsealed + lines[0], errcode.InputUnexpectedRecord, 2},
		{"envelope in unsealed input", Unsealed, unsealed + lines[1], errcode.InputUnexpectedRecord, 2},
		{"sealed stream as unsealed input", Unsealed, lines[0], errcode.InputWrongKind, 1},
		{"garbage", Unsealed, unsealed + "not json\n", errcode.InputMalformedJSON, 2},
		{"truncated", Sealed, lines[0] + lines[1][:100], errcode.InputMalformedJSON, 2},
		{"duplicate key", Unsealed, `{"payload":1,"payload":2}` + "\n", errcode.InputMalformedJSON, 1},
		{"bad utf8", Unsealed, "{\"payload\":\"\xff\"}\n", errcode.InputMalformedJSON, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tc.in), tc.mode, evidence.Limits{})
			var err error
			for err == nil {
				_, err = r.Next()
			}
			e, ok := errcode.As(err)
			if !ok || e.Code != tc.code || e.Line != tc.line {
				t.Errorf("error = %v, want %s at line %d", err, tc.code, tc.line)
			}
		})
	}
}

func TestUnsealedReaderAcceptsFormatting(t *testing.T) {
	in := "{ \"payload\" : [ 1 , 2.50 ], \"claimed_at\":\"2026-11-22T10:00:00Z\",\"adapter_id\":\"x\",\"environment_id\":\"e\",\"actor_id\":\"a\",\"event_type\":\"a\" }\r\n"
	r := NewReader(strings.NewReader(in), Unsealed, evidence.Limits{})
	rec, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if p := rec.(*evidence.Unsealed).Payload; p != "[1,2.5]" {
		t.Errorf("payload = %s, want canonical [1,2.5]", p)
	}
}

func TestGrammar(t *testing.T) {
	const (
		G = evidence.KindGenesis
		A = evidence.KindAttachment
		E = evidence.KindEnvelope
		X = evidence.KindElided
		S = evidence.KindSeal
		U = evidence.KindUnsealed
	)
	for _, tc := range []struct {
		name  string
		kinds []evidence.Kind
		ok    bool
	}{
		{"empty", nil, true},
		{"one sealed segment", []evidence.Kind{G, A, E, E, S}, true},
		{"open last segment", []evidence.Kind{G, E, S, G, E}, true},
		{"empty sealed segment", []evidence.Kind{G, S}, true},
		{"elided records", []evidence.Kind{G, X, A, A, E, X, S}, true},
		{"envelope first", []evidence.Kind{E}, false},
		{"attachment first", []evidence.Kind{A, G}, false},
		{"open segment then genesis", []evidence.Kind{G, E, G}, false},
		{"attachment before seal", []evidence.Kind{G, A, S}, false},
		{"attachment before elided", []evidence.Kind{G, A, X}, false},
		{"trailing attachment", []evidence.Kind{G, E, A}, false},
		{"envelope after seal", []evidence.Kind{G, S, E}, false},
		{"two seals", []evidence.Kind{G, S, S}, false},
		{"unsealed record", []evidence.Kind{G, U}, false},
	} {
		var g Grammar
		var err error
		for _, k := range tc.kinds {
			if err = g.Next(k); err != nil {
				break
			}
		}
		if err == nil {
			err = g.End()
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: error = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errcode.InputUnexpectedRecord) {
			t.Errorf("%s: code = %v", tc.name, err)
		}
	}
}

// FuzzReader runs arbitrary bytes through both reader modes: no panics,
// every error typed with a line, every sealed record re-encodes to its line.
func FuzzReader(f *testing.F) {
	bases := [][]byte{vector(f), []byte(`{"event_type":"a","actor_id":"a","environment_id":"e","adapter_id":"x","claimed_at":"2026-11-22T10:00:00Z","payload":1}` + "\n")}
	f.Add([]byte{}, true, uint8(0), uint16(0), uint8(0))
	f.Add([]byte{}, false, uint8(1), uint16(0), uint8(0))
	f.Add([]byte(`"x"`), true, uint8(0), uint16(700), uint8(3))
	f.Fuzz(func(t *testing.T, patch []byte, sealed bool, base uint8, at uint16, cut uint8) {
		data := fuzzinput.Edit(bases, base, at, cut, patch)
		mode := Unsealed
		if sealed {
			mode = Sealed
		}
		r := NewReader(bytes.NewReader(data), mode, evidence.Limits{Line: 1 << 16})
		for {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				e, ok := errcode.As(err)
				if !ok || e.Line == 0 {
					t.Fatalf("error without code or line: %v", err)
				}
				return
			}
			if sealed && !bytes.Equal(rec.AppendJCS(nil), r.Raw()) {
				t.Fatalf("sealed record does not re-encode to its line: %s", r.Raw())
			}
		}
	})
}
