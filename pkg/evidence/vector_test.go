package evidence

import (
	"bytes"
	"crypto/sha256"
	"os"
	"testing"

	"arxi.dev/arxi/pkg/scalar"
	"github.com/transparency-dev/merkle/rfc6962"
)

// TestSealBasicVector walks the worked example of SPEC §5
// (testdata/vectors/seal-basic.*, copied from the specification) step by
// step, recomputing every hash and derived id from first principles and
// asserting each against the published value.
func TestSealBasicVector(t *testing.T) {
	data, err := os.ReadFile("../../testdata/vectors/seal-basic.expected.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) != 5 {
		t.Fatalf("vector has %d lines, want 5", len(lines))
	}
	recs := make([]Record, len(lines))
	d := NewDecoder(DefaultLimits)
	for i, l := range lines {
		rec, err := d.Sealed(l)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if got := rec.AppendJCS(nil); !bytes.Equal(got, l) {
			t.Fatalf("line %d does not re-encode byte for byte:\n got %s\nwant %s", i+1, got, l)
		}
		recs[i] = rec
	}
	g := recs[0].(*Genesis)
	e1 := recs[1].(*Envelope)
	att := recs[2].(*Attachment)
	e2 := recs[3].(*Envelope)
	seal := recs[4].(*Seal)

	want := func(name string, got scalar.Digest, hex string) {
		t.Helper()
		if got.String() != "sha256:"+hex {
			t.Errorf("%s = %s, want sha256:%s", name, got, hex)
		}
	}

	// Step 1: content hashes of the two envelopes (SPEC §5.1).
	var h Hasher
	want("content_hash(1)", h.Content(&e1.Content), "59f07d98d2e80b317829aeeee0ee05fbc621ab3dfc5491e8c4f3bf64cb5b74de")
	want("content_hash(2)", h.Content(&e2.Content), "ffbcbbdca9cc52e8b2ba1543a0ab8f031a9599b17c587bbb11bf7de4d05eb55e")

	// Step 2: the segment id is derived from the recorder and the first
	// envelope's anonymous view (SPEC §5.6), and the genesis hashes its view.
	anon1 := h.Anon(&e1.Content)
	if got := DeriveSegmentID(e1.ClaimedAt, scalar.MustLabel("recorder-1"), nil, anon1); got != g.SegmentID {
		t.Errorf("derived segment id = %s, want %s", got, g.SegmentID)
	}
	if g.SegmentID.String() != "01a202b2-c500-7fca-84b6-746b5f17ba11" {
		t.Errorf("segment id = %s", g.SegmentID)
	}
	want("genesis_hash", h.Genesis(g), "3153903dcdac8149a87eed9325c90a6992cff6d954e1a8d8128bc7ec94130c87")
	if !g.Verify() {
		t.Errorf("genesis does not verify")
	}

	// Step 3: envelope ids are derived from segment, sequence and anon view.
	for i, e := range []*Envelope{e1, e2} {
		if got := DeriveEnvelopeID(e.ClaimedAt, g.SegmentID, e.Sequence, h.Anon(&e.Content)); got != e.EnvelopeID {
			t.Errorf("derived envelope id %d = %s, want %s", i+1, got, e.EnvelopeID)
		}
	}
	if e1.EnvelopeID.String() != "01a202b2-c500-7748-bb0a-c67fa3eabe09" || e2.EnvelopeID.String() != "01a202b2-c501-7f53-bb00-dbd2cc3ded6d" {
		t.Errorf("envelope ids = %s, %s", e1.EnvelopeID, e2.EnvelopeID)
	}

	// Step 4: the chain, with raw SHA-256 over concatenated digests (SPEC §5.3).
	cat := func(a, b scalar.Digest) scalar.Digest { return sha256.Sum256(append(a[:], b[:]...)) }
	c1 := cat(g.GenesisHash, e1.ContentHash)
	c2 := cat(c1, e2.ContentHash)
	want("chain_hash(1)", c1, "2b4a49277f923391802b7f53f37ac05b961646f970dbdc1cb1f831288dff2f75")
	want("chain_hash(2)", c2, "5ecbefe2c6f620762d267915e4b2a5f6fb3d3263db7a1b9581c610a48dc2e0de")
	if e1.ChainHash != c1 || e2.ChainHash != c2 || ChainNext(c1, e2.ContentHash) != c2 {
		t.Errorf("chain hashes in the records do not match the recomputation")
	}

	// Step 5: the attachment is content-addressed.
	want("attachment hash", scalar.Sum(att.Data), "fe482b5e524c67728f4f2b4f430cd10d9a25659641f995ae537b282ccd181e0b")
	if string(att.Data) != "hello evidence\n" || att.Size() != 15 {
		t.Errorf("attachment = %q (%d bytes)", att.Data, att.Size())
	}

	// Step 6: the seal's Merkle root, RFC 6962 by hand (SPEC §5.4).
	leaf := func(d scalar.Digest) []byte { s := sha256.Sum256(append([]byte{0}, d[:]...)); return s[:] }
	node := sha256.Sum256(append(append([]byte{1}, leaf(e1.ContentHash)...), leaf(e2.ContentHash)...))
	want("merkle_root", node, "01aeb8222ff3536a50dd67a0036e607818bbd1c59750d4270422f0e7dac08f93")
	if MerkleRoot([]scalar.Digest{e1.ContentHash, e2.ContentHash}) != node {
		t.Errorf("MerkleRoot disagrees with the hand computation")
	}

	// Step 7: replaying the chain checks the seal.
	ch := NewChain(g)
	for _, e := range []*Envelope{e1, e2} {
		if err := ch.Next(e.SegmentID, e.Sequence, e.ContentHash, e.ChainHash); err != nil {
			t.Errorf("Chain.Next(%d): %v", e.Sequence, err)
		}
	}
	if err := ch.CheckSeal(seal); err != nil {
		t.Errorf("CheckSeal: %v", err)
	}
	if seal.SealedAt != e2.ClaimedAt || seal.Reason != SealEndOfStream {
		t.Errorf("seal = %+v", seal)
	}
}

func TestMerkleRootEdgeCases(t *testing.T) {
	empty := sha256.Sum256(nil)
	if got := MerkleRoot(nil); got != empty {
		t.Errorf("empty root = %s, want SHA-256(\"\")", got)
	}
	d := scalar.Sum([]byte("x"))
	one := sha256.Sum256(append([]byte{0}, d[:]...))
	if got := MerkleRoot([]scalar.Digest{d}); got != one {
		t.Errorf("one-leaf root = %s, want the leaf hash", got)
	}
	// Three leaves: RFC 6962 splits at the largest power of two below n.
	var hs []scalar.Digest
	for i := range 3 {
		hs = append(hs, scalar.Sum([]byte{byte(i)}))
	}
	leaf := func(d scalar.Digest) []byte { s := sha256.Sum256(append([]byte{0}, d[:]...)); return s[:] }
	n01 := sha256.Sum256(append(append([]byte{1}, leaf(hs[0])...), leaf(hs[1])...))
	root := sha256.Sum256(append(append([]byte{1}, n01[:]...), leaf(hs[2])...))
	if got := MerkleRoot(hs); got != root {
		t.Errorf("three-leaf root = %s, want %s", got, scalar.Digest(root))
	}
	var m Merkle
	m.Add(hs[0])
	c := m.Clone()
	m.Add(hs[1])
	if c.Size() != 1 || m.Size() != 2 || c.Root() == m.Root() {
		t.Errorf("Clone is not independent")
	}
}

// TestMerkleRootRFC6962: the tree hash is the one of RFC 6962's reference
// hasher, for every size up to three full levels past a power of two.
func TestMerkleRootRFC6962(t *testing.T) {
	var leaves []scalar.Digest
	for n := range 70 {
		var want []byte
		if n == 0 {
			want = rfc6962.DefaultHasher.EmptyRoot()
		} else {
			want = referenceRoot(leaves)
		}
		if got := MerkleRoot(leaves); !bytes.Equal(got[:], want) {
			t.Errorf("MerkleRoot(%d leaves) = %x, want %x", n, got, want)
		}
		leaves = append(leaves, scalar.Sum([]byte{byte(n)}))
	}
}

// referenceRoot is RFC 6962's tree hash of leaves (at least one), split
// at the largest power of two below their number.
func referenceRoot(leaves []scalar.Digest) []byte {
	if len(leaves) == 1 {
		return rfc6962.DefaultHasher.HashLeaf(leaves[0][:])
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return rfc6962.DefaultHasher.HashChildren(referenceRoot(leaves[:k]), referenceRoot(leaves[k:]))
}
