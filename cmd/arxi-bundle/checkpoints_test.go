package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/pkg/checkpoint"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/memory"
	"arxi.dev/arxi/pkg/store/storetest"
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

// TestCheckpointsLifecycleKeys: without a trust root, the keys named by a
// stream's disclosed lifecycle envelopes are known (SPEC §11.2): every
// signature of an enrolment's and a rotation's seals is in its note.
func TestCheckpointsLifecycleKeys(t *testing.T) {
	a, b := storetest.Key(1), storetest.Key(2)
	s, err := store.Open(t.Context(), memory.New(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.Add(t, s, storetest.Rotate(t, s, storetest.LifecycleOf(signing.Enrolled, 1, nil, a), storetest.At(0), a))
	storetest.Add(t, s, storetest.Rotate(t, s, storetest.LifecycleOf(signing.Rotated, 2, a, b), storetest.At(1), a, b))
	in := storetest.StreamOf(t, s, store.Filter{})
	code, out, errb := runBundle(t, in, "checkpoints", "-")
	if code != 0 || errb != "" {
		t.Fatalf("exit %d: %s", code, errb)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || strings.Count(lines[0], "— arxi-") != 1 || strings.Count(lines[1], "— arxi-") != 2 {
		t.Errorf("checkpoints, want the enrolment's seal signed once and the rotation's twice:\n%s", out)
	}
}
