package checkpoint_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"arxi.dev/arxi/pkg/checkpoint"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
	"golang.org/x/mod/sumdb/note"
)

func key(seed byte) *signing.Key {
	return signing.NewKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
}

// basicSeal is the seal of SPEC's seal-basic vector, and its genesis hash.
func basicSeal(t *testing.T) (*evidence.Seal, scalar.Digest) {
	t.Helper()
	line := `{"envelope_count":2,"head_chain_hash":"sha256:5ecbefe2c6f620762d267915e4b2a5f6fb3d3263db7a1b9581c610a48dc2e0de",` +
		`"merkle_root":"sha256:01aeb8222ff3536a50dd67a0036e607818bbd1c59750d4270422f0e7dac08f93","reason":"end_of_stream",` +
		`"record":"seal","sealed_at":"2026-11-22T10:00:00.001000000Z","segment_id":"01a202b2-c500-7fca-84b6-746b5f17ba11"}`
	rec, err := evidence.NewDecoder(evidence.DefaultLimits).Sealed([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	g, err := scalar.ParseDigest("sha256:4a8b1f5e1c8c7c8a0d2b3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7")
	if err != nil {
		t.Fatal(err)
	}
	return rec.(*evidence.Seal), g
}

// signedNote signs the seal-basic seal with signers and returns it, its
// checkpoint, and its note with the keys of known.
func signedNote(t *testing.T, signers []*signing.Key, known ...*signing.Key) (*evidence.Seal, []byte, []byte, int) {
	t.Helper()
	s, g := basicSeal(t)
	sg := make([]sealing.Signer, len(signers))
	for i, k := range signers {
		sg[i] = k
	}
	sealing.SignSeal(s, g, sg)
	text := checkpoint.Append(nil, g, s)
	msg, unknown := checkpoint.AppendNote(nil, text, s.Signatures, func(id scalar.KeyID) (ed25519.PublicKey, bool) {
		for _, k := range known {
			if k.KeyID() == id {
				return k.PublicKey(), true
			}
		}
		return nil, false
	})
	return s, text, msg, unknown
}

// TestText pins the checkpoint text of SPEC §11.2, byte for byte.
func TestText(t *testing.T) {
	s, g := basicSeal(t)
	want := "arxi.dev/segment/01a202b2-c500-7fca-84b6-746b5f17ba11\n" +
		"2\n" +
		"Aa64Ii/zU2pQ3WegA25geBi70cWXUNQnBCLw59rAj5M=\n" +
		"genesis sha256:4a8b1f5e1c8c7c8a0d2b3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7\n" +
		"head sha256:5ecbefe2c6f620762d267915e4b2a5f6fb3d3263db7a1b9581c610a48dc2e0de\n" +
		"sealed 2026-11-22T10:00:00.001000000Z end_of_stream\n"
	if got := string(checkpoint.Append(nil, g, s)); got != want {
		t.Errorf("checkpoint:\n%s\nwant:\n%s", got, want)
	}
}

// TestNoteVerifiesWithSumdbNote: a seal signed by the sealer, printed as
// a signed note, opens with golang.org/x/mod/sumdb/note — the code the Go
// checksum database's clients run — under each signer's verifier key, and
// names each key as SPEC §11.2 says.
func TestNoteVerifiesWithSumdbNote(t *testing.T) {
	k1, k2 := key(1), key(2)
	s, text, msg, unknown := signedNote(t, []*signing.Key{k1, k2}, k1, k2)
	if unknown != 0 {
		t.Fatalf("%d unknown keys", unknown)
	}
	var verifiers []note.Verifier
	for _, k := range []*signing.Key{k1, k2} {
		name := checkpoint.KeyName(k.KeyID())
		if want := "arxi-" + k.KeyID().String()[:16]; name != want {
			t.Errorf("KeyName = %s, want arxi- and the first 16 hex digits of %s", name, k.KeyID())
		}
		vk, err := note.NewEd25519VerifierKey(name, k.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		if got := checkpoint.VerifierKey(k.PublicKey()); got != vk {
			t.Errorf("VerifierKey = %s, sumdb/note makes %s", got, vk)
		}
		v, err := note.NewVerifier(vk)
		if err != nil {
			t.Fatal(err)
		}
		if v.KeyHash() != checkpoint.KeyHash(name, k.PublicKey()) {
			t.Errorf("KeyHash = %08x, sumdb/note computes %08x", checkpoint.KeyHash(name, k.PublicKey()), v.KeyHash())
		}
		verifiers = append(verifiers, v)
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	if err != nil {
		t.Fatalf("note.Open:\n%s\n%v", msg, err)
	}
	if n.Text != string(text) || len(n.Sigs) != 2 || len(n.UnverifiedSigs) != 0 {
		t.Errorf("note: text %q, %d verified, %d unverified", n.Text, len(n.Sigs), len(n.UnverifiedSigs))
	}
	for i, sig := range n.Sigs {
		if sig.Name != checkpoint.KeyName(s.Signatures[i].KeyID) {
			t.Errorf("signature %d by %s, want %s (key_id order)", i, sig.Name, checkpoint.KeyName(s.Signatures[i].KeyID))
		}
	}

	// A changed checkpoint does not open.
	bad := bytes.Replace(msg, []byte("\n2\n"), []byte("\n3\n"), 1)
	if _, err := note.Open(bad, note.VerifierList(verifiers...)); err == nil {
		t.Error("a note with a changed envelope count opened")
	}
	// One verifier alone opens it, the other signature unverified.
	n, err = note.Open(msg, note.VerifierList(verifiers[0]))
	if err != nil || len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 1 {
		t.Errorf("one verifier: %v, %+v", err, n)
	}
}

// TestNoteLeavesOutUnknownKeys: a signature whose key is not known gets
// no line and is counted.
func TestNoteLeavesOutUnknownKeys(t *testing.T) {
	k1, k2 := key(1), key(2)
	_, _, msg, unknown := signedNote(t, []*signing.Key{k1, k2}, k2)
	if unknown != 1 || bytes.Count(msg, []byte("\n— ")) != 1 || !bytes.Contains(msg, []byte("— "+checkpoint.KeyName(k2.KeyID())+" ")) {
		t.Errorf("unknown = %d, note:\n%s", unknown, msg)
	}
}

// TestSignSealUnsigned: without signers a seal keeps no signatures, so its
// line is the unsigned line byte for byte.
func TestSignSealUnsigned(t *testing.T) {
	s, g := basicSeal(t)
	before := string(s.AppendJCS(nil))
	sealing.SignSeal(s, g, nil)
	if got := string(s.AppendJCS(nil)); got != before || s.Signatures != nil {
		t.Errorf("unsigned seal changed: %s", got)
	}
}
