package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/pkg/checkpoint"
	"golang.org/x/mod/sumdb/note"
)

// TestCheckpointsOpenWithSumdbNote: every note arxi-bundle checkpoints
// prints opens with golang.org/x/mod/sumdb/note under the signing key's
// verifier key, and its text is the checkpoint of the seal it names; a
// verifier of another key does not open it.
func TestCheckpointsOpenWithSumdbNote(t *testing.T) {
	dir := fixtures(t)
	code, out, errb := runBundle(t, nil, "checkpoints", "--trust-root", filepath.Join(dir, "root.json"), filepath.Join(dir, "demo.arxb"))
	if code != 0 || errb != "" {
		t.Fatalf("exit %d: %s", code, errb)
	}
	key, other := bundletest.Key(1), bundletest.Key(2)
	verifier := func(pub []byte) note.Verifier {
		v, err := note.NewVerifier(checkpoint.VerifierKey(pub))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines, want one per signed seal (1):\n%s", len(lines), out)
	}
	for _, l := range lines {
		var rec struct {
			Note      string `json:"note"`
			Record    string `json:"record"`
			SegmentID string `json:"segment_id"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Record != "checkpoint" {
			t.Fatalf("line %s: %v", l, err)
		}
		n, err := note.Open([]byte(rec.Note), note.VerifierList(verifier(key.PublicKey())))
		if err != nil {
			t.Fatalf("note.Open: %v\n%s", err, rec.Note)
		}
		if !strings.HasPrefix(n.Text, checkpoint.OriginPrefix+rec.SegmentID+"\n") || len(n.Sigs) != 1 ||
			n.Sigs[0].Name != checkpoint.KeyName(key.KeyID()) {
			t.Errorf("note %+v", n)
		}
		if _, err := note.Open([]byte(rec.Note), note.VerifierList(verifier(other.PublicKey()))); err == nil {
			t.Error("the note opens under another key")
		}
	}
}
