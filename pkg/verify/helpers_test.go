package verify_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/verify"
)

// base is the stream behind the tamper matrix: 12 envelopes in three
// sealed segments of four, an attachment on every second (blobs 0, 1, 2,
// 0, 1, 2), all signed by key 1.
func baseStream(keys ...*signing.Key) []byte {
	return bundletest.Stream(bundletest.Options{Envelopes: 12, PerSegment: 4, AttachEvery: 2, Keys: keys})
}

// baseSelector discloses events 0-4 (trace-0), 3, 7 and 11 (model.reply)
// and 9 (claimed in [9s, 10s)), so the bundle is
//
//	M |G A E1 E2 A E3 E4 S |G A E1 x2 x3 E4 S |G x1 E2 x3 E4 S
func baseSelector() bundle.Selector {
	since, _ := scalar.TimestampOf(bundletest.Base.Add(9 * time.Second))
	until, _ := scalar.TimestampOf(bundletest.Base.Add(10 * time.Second))
	sel := bundle.Selector{TraceIDs: []scalar.Label{scalar.MustLabel("trace-0")},
		EventTypes: []scalar.Token{scalar.MustToken("model.reply")}, Since: &since, Until: &until}
	if err := sel.Normalize(); err != nil {
		panic(err)
	}
	return sel
}

func run(t testing.TB, in []byte, cfg verify.Config) *verify.Verdict {
	t.Helper()
	v, err := verify.Bundle(context.Background(), bytes.NewReader(in), cfg)
	if err != nil {
		t.Fatalf("Bundle: %v", err)
	}
	return v
}

// lines is a bundle being tampered with, one string per line.
type lines []string

func split(b []byte) lines { return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") }

func (l lines) bytes() []byte { return []byte(strings.Join(l, "\n") + "\n") }

// find returns the index of the record of kind (genesis, attachment,
// envelope, elided, seal) that is the n-th (1-based) of its kind in
// segment seg (1-based).
func (l lines) find(t testing.TB, seg int, kind string, n int) int {
	t.Helper()
	s, k := 0, 0
	for i, line := range l {
		if strings.Contains(line, `"record":"genesis"`) {
			s++
			k = 0
		}
		if s == seg && strings.Contains(line, `"record":"`+kind+`"`) {
			if k++; k == n {
				return i
			}
		}
	}
	t.Fatalf("no %s number %d in segment %d", kind, n, seg)
	return -1
}

// sub replaces old by new in line i.
func (l lines) sub(t testing.TB, i int, old, new string) {
	t.Helper()
	s := strings.Replace(l[i], old, new, 1)
	if s == l[i] {
		t.Fatalf("line %d has no %q: %s", i+1, old, l[i])
	}
	l[i] = s
}

func decode(t testing.TB, line string) evidence.Record {
	t.Helper()
	// Tampered lines need not be in their normal form: decode them as
	// canonical JSON only.
	r, _, err := evidence.NewDecoder(evidence.DefaultLimits).Unsealed(nil, []byte(line))
	if err != nil {
		t.Fatalf("decode %s: %v", line, err)
	}
	return r
}

// edit decodes record i, lets f change it and writes it back.
func (l lines) edit(t testing.TB, i int, f func(evidence.Record)) {
	t.Helper()
	r := decode(t, l[i])
	f(r)
	l[i] = string(r.AppendJCS(nil))
}

// forge recomputes every hash a forger can: genesis, content and chain
// hashes, seals, links to included predecessors (when relink is set), the
// manifest's genesis hashes, heads, Merkle roots and counts, the dates
// of automatic seals, and bundle_id. Signatures cannot be forged and stay as they are, the seals'
// too (resign and unsign change those).
func (l lines) forge(t testing.TB, relink bool) {
	t.Helper()
	m, err := bundle.ParseManifest([]byte(l[0]))
	if err != nil {
		t.Fatal(err)
	}
	var h evidence.Hasher
	var chain *evidence.Chain
	heads := map[scalar.UUID]scalar.Digest{}
	seg := -1
	var first, last scalar.Timestamp // last: claimed_at of the segment's last envelope
	lastKnown := false
	for i := 1; i < len(l); i++ {
		r := decode(t, l[i])
		switch v := r.(type) {
		case *evidence.Genesis:
			if p := v.Predecessor; p != nil && relink {
				if head, ok := heads[p.SegmentID]; ok {
					p.ChainHead = head
				}
			}
			v.GenesisHash = h.Genesis(v)
			chain = evidence.NewChain(v)
			last, lastKnown = v.CreatedAt, true
			seg++
			if seg == 0 {
				first = v.CreatedAt
			}
			ms := &m.Segments[seg]
			ms.SegmentID, ms.GenesisHash, ms.HeadChainHash = v.SegmentID, v.GenesisHash, v.GenesisHash
			ms.Disclosed, ms.Elided, ms.EnvelopeCount = 0, 0, 0
		case *evidence.Envelope:
			v.SegmentID = chain.SegmentID
			v.ContentHash = h.Content(&v.Content)
			v.Sequence, v.ChainHash = chain.Append(v.ContentHash)
			m.Segments[seg].Disclosed++
			last, lastKnown = v.ClaimedAt, true
		case *evidence.Elided:
			v.SegmentID = chain.SegmentID
			v.Sequence, v.ChainHash = chain.Append(v.ContentHash)
			m.Segments[seg].Elided++
			lastKnown = false
		case *evidence.Seal:
			sigs, at := v.Signatures, v.SealedAt
			if v.Reason.Automatic() && lastKnown {
				at = last
			}
			*v = *chain.Seal(v.Reason, at)
			v.Signatures = sigs
			heads[v.SegmentID] = v.HeadChainHash
			root := v.MerkleRoot
			m.Segments[seg].MerkleRoot = &root
		}
		if seg >= 0 {
			ms := &m.Segments[seg]
			ms.HeadChainHash, ms.EnvelopeCount = chain.Head, ms.Disclosed+ms.Elided
		}
		l[i] = string(r.AppendJCS(nil))
	}
	m.BundleID = m.DeriveID(first)
	l[0] = string(m.AppendJCS(nil))
}

// resign replaces every seal's signatures by signatures of keys over its
// (forged) checkpoint; with no keys it leaves every seal unsigned.
func (l lines) resign(t testing.TB, keys ...*signing.Key) {
	t.Helper()
	signers := make([]sealing.Signer, len(keys))
	for i, k := range keys {
		signers[i] = k
	}
	var genesis scalar.Digest
	for i := 1; i < len(l); i++ {
		switch v := decode(t, l[i]).(type) {
		case *evidence.Genesis:
			genesis = v.GenesisHash
		case *evidence.Seal:
			sealing.SignSeal(v, genesis, signers)
			l[i] = string(v.AppendJCS(nil))
		}
	}
}

func parseManifest(t testing.TB, line string) *bundle.Manifest {
	t.Helper()
	m, err := bundle.ParseManifest([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
