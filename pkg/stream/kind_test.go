package stream

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/zstdio"
)

// TestWrongKind: a reader given another kind of Arxi file says what it is
// and which tool reads it, from the first line, whatever that line's
// formatting; input it does not recognise keeps its own error.
func TestWrongKind(t *testing.T) {
	lines := strings.SplitAfter(string(vector(t)), "\n")
	genesis, envelope := lines[0], lines[1]
	event := `{"event_type":"a", "actor_id":"a","environment_id":"e","adapter_id":"x","claimed_at":"2026-11-22T10:00:00Z","payload":1}` + "\n"
	manifest := `{"attachments":[],"bundle_id":"x","record":"manifest"}` + "\n"
	receipt := `{"chain_hash":"sha256:00","envelope_id":"x","record":"receipt","segment_id":"y","sequence":1}` + "\n"
	sqlite := "SQLite format 3\x00\x10\x00\x02\x02\x00@  \x00\x00\x00\x02" + strings.Repeat("\x00", 200)
	for _, tc := range []struct {
		name, in string
		mode     Mode
		code     errcode.Code
		hint     string
	}{
		{"events to a sealed reader", event, Sealed, errcode.InputWrongKind, "pipe them through arxi-seal"},
		{"events marked unsealed", `{"record":"unsealed"}` + "\n", Sealed, errcode.InputWrongKind, "pipe them through arxi-seal"},
		{"a bundle to a sealed reader", manifest, Sealed, errcode.InputWrongKind, "arxi-verify"},
		{"a bundle to arxi-seal", manifest, Unsealed, errcode.InputWrongKind, "arxi-verify"},
		{"receipts", receipt, Sealed, errcode.InputWrongKind, "arxi-bundle --store"},
		{"receipts to arxi-seal", receipt, Unsealed, errcode.InputWrongKind, "arxi-bundle --store"},
		{"a verdict", `{"record":"verdict"}` + "\n", Sealed, errcode.InputWrongKind, "jq"},
		{"a query page", `{"next_cursor":null,"record":"page"}` + "\n", Sealed, errcode.InputWrongKind, "--format stream"},
		{"a sealed stream to arxi-seal", genesis, Unsealed, errcode.InputWrongKind, "arxi-append"},
		{"sealed envelopes to arxi-seal", envelope, Unsealed, errcode.InputWrongKind, "sealed already"},
		{"a store", sqlite, Sealed, errcode.InputWrongKind, "arxi-bundle --store"},
		{"a store to arxi-seal", sqlite, Unsealed, errcode.InputWrongKind, "arxi-bundle --store"},
		{"a store, one long line", "SQLite format 3\x00" + strings.Repeat("x", 5000) + "\n", Sealed, errcode.InputWrongKind, "arxi-bundle --store"},
		{"garbage keeps its error", "garbage\n", Sealed, errcode.InputMalformedJSON, ""},
		{"an unknown record keeps its error", `{"record":"frob"}` + "\n", Sealed, errcode.InputFieldInvalid, ""},
		{"a bad event keeps its error", `{"event_type":"a"}` + "\n", Unsealed, errcode.InputMissingField, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tc.in), tc.mode, evidence.Limits{Line: 4096})
			_, err := r.Next()
			e, ok := errcode.As(err)
			if !ok || e.Code != tc.code || e.Line != 1 || !strings.Contains(e.Hint, tc.hint) {
				t.Fatalf("Next = %v (hint %q), want %s at line 1 with a hint naming %q", err, e.Hint, tc.code, tc.hint)
			}
		})
	}
	// Only the first line: later ones are faults of the stream itself.
	r := NewReader(strings.NewReader(genesis+event), Sealed, evidence.Limits{})
	r.Next()
	if _, err := r.Next(); errcode.CodeOf(err) != errcode.InputNotCanonical {
		t.Errorf("second line: %v, want input.not_canonical", err)
	}
}

// TestReaderZstd: every reader takes zstd input (SPEC §9.1).
func TestReaderZstd(t *testing.T) {
	data := vector(t)
	var z bytes.Buffer
	w, err := zstdio.NewWriter(&z)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	r := NewReader(bytes.NewReader(z.Bytes()), Sealed, evidence.Limits{})
	var out bytes.Buffer
	sw := NewWriter(&out)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sw.Write(rec)
	}
	sw.Flush()
	if !bytes.Equal(out.Bytes(), data) {
		t.Error("a zstd stream reads differently from the plain one")
	}
	_, err = NewReader(strings.NewReader("\x28\xb5\x2f\xfdjunk"), Unsealed, evidence.Limits{}).Next()
	if errcode.CodeOf(err) != errcode.InputZstd {
		t.Errorf("corrupt zstd: %v, want input.zstd", err)
	}
}

// FuzzWrongKind: any first line is either recognised, as input.wrong_kind
// at line 1 with a message, or not at all; never a panic.
func FuzzWrongKind(f *testing.F) {
	for _, s := range []string{`{"record":"manifest"}`, `{"event_type":1}`, `{"record":["genesis"]}`, "SQLite format 3\x00", `[]`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, mode := range []Mode{Sealed, Unsealed} {
			err := WrongKind(mode, line)
			if err == nil {
				continue
			}
			if e, ok := errcode.As(err); !ok || e.Code != errcode.InputWrongKind || e.Line != 1 || e.Msg == "" {
				t.Fatalf("WrongKind(%q) = %v", line, err)
			}
		}
	})
}
