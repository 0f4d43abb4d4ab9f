package verify_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/verify"
)

// TestBaseBundle pins the shape the tamper matrix relies on.
func TestBaseBundle(t *testing.T) {
	b := fixture.MustBuild(t, baseStream(bundletest.Key(1)), baseSelector())
	var kinds []string
	for _, l := range split(b) {
		for _, k := range []string{"manifest", "genesis", "attachment", "envelope", "elided", "seal"} {
			if strings.Contains(l, `"record":"`+k+`"`) {
				kinds = append(kinds, k[:1])
			}
		}
	}
	if got, want := strings.Join(kinds, ""), "mgaeeaeesgaeeeesgeeees"; got != want {
		t.Fatalf("base bundle kinds = %s, want %s", got, want)
	}
	v := run(t, b, verify.Config{TrustRoot: bundletest.ParseTrustRoot("any_trusted_key", bundletest.Key(1))})
	if !v.Valid() || len(v.Warnings) != 0 {
		t.Fatalf("base bundle: %s", v.AppendJCS(nil))
	}
}

// TestTamperMatrix changes a valid multi-segment bundle with attachments
// and elided envelopes in every way the issue lists, and checks that each
// change makes the verdict invalid and which phase catches it (others may
// fail as well: a removed envelope also breaks the chain).
func TestTamperMatrix(t *testing.T) {
	base := fixture.MustBuild(t, baseStream(bundletest.Key(1)), baseSelector())
	// Segment 1: A E1 E2 A E3 E4 S (events 0-3); segment 2: A E1 x2 x3 E4 S
	// (events 4-7); segment 3: x1 E2 x3 E4 S (events 8-11).
	type edit func(t *testing.T, l lines) lines
	contentField := func(old, new string) edit {
		return func(t *testing.T, l lines) lines {
			l.sub(t, l.find(t, 1, "envelope", 4), old, new) // event 3: trace-0 and model.reply
			return l
		}
	}
	recomputed := func(e edit) edit {
		return func(t *testing.T, l lines) lines {
			l = e(t, l)
			i := l.find(t, 1, "envelope", 4)
			l.edit(t, i, func(r evidence.Record) {
				e := r.(*evidence.Envelope)
				e.ContentHash = evidence.ContentHash(&e.Content)
			})
			return l
		}
	}
	remove := func(seg int, kind string, n int) edit {
		return func(t *testing.T, l lines) lines {
			return slices.Delete(l, l.find(t, seg, kind, n), l.find(t, seg, kind, n)+1)
		}
	}
	field := func(seg int, kind string, n int, old, new string) edit {
		return func(t *testing.T, l lines) lines {
			l.sub(t, l.find(t, seg, kind, n), old, new)
			return l
		}
	}
	// forged changes the first record of kind in segment seg (1-based)
	// and re-derives every hash (forge).
	forged := func(seg int, kind string, relink bool, f func(t *testing.T, l lines, r evidence.Record)) edit {
		return func(t *testing.T, l lines) lines {
			l.edit(t, l.find(t, seg, kind, 1), func(r evidence.Record) { f(t, l, r) })
			l.forge(t, relink)
			return l
		}
	}
	segment := func(l lines, seg int) (int, int) {
		start := l.find(t, seg, "genesis", 1)
		return start, l.find(t, seg, "seal", 1) + 1
	}
	cases := []struct {
		name  string
		edit  edit
		phase verify.Phase
	}{
		{"payload changed", contentField(`"tool":"search"`, `"tool":"delete"`), verify.PhaseContent},
		{"actor changed", contentField(`"actor_id":"agent:0"`, `"actor_id":"agent:9"`), verify.PhaseContent},
		{"event type changed", contentField(`"event_type":"model.reply"`, `"event_type":"model.other"`), verify.PhaseContent},
		{"environment changed", contentField(`"environment_id":"prod"`, `"environment_id":"dev"`), verify.PhaseContent},
		{"adapter changed", contentField(`"adapter_id":"bundletest"`, `"adapter_id":"other"`), verify.PhaseContent},
		{"trace changed", contentField(`"trace_id":"trace-0"`, `"trace_id":"trace-9"`), verify.PhaseContent},
		{"session changed", contentField(`"session_id":"sess-0"`, `"session_id":"sess-9"`), verify.PhaseContent},
		{"claimed_at changed", contentField(`10:00:03.000000000Z`, `10:00:03.000000001Z`), verify.PhaseContent},
		{"envelope_id changed", func(t *testing.T, l lines) lines {
			l.edit(t, l.find(t, 1, "envelope", 4), func(r evidence.Record) { r.(*evidence.Envelope).EnvelopeID[15] ^= 1 })
			return l
		}, verify.PhaseContent},
		{"attachment content type changed", field(1, "envelope", 3, `"content_type":"text/plain"`, `"content_type":"text/html"`), verify.PhaseContent},
		{"field made invalid", contentField(`"actor_id":"agent:0"`, `"actor_id":" "`), verify.PhaseContent},
		{"payload changed, content_hash recomputed", recomputed(contentField(`"tool":"search"`, `"tool":"delete"`)), verify.PhaseChain},
		{"actor changed, content_hash recomputed", recomputed(contentField(`"actor_id":"agent:0"`, `"actor_id":"agent:9"`)), verify.PhaseChain},
		{"claimed_at changed, content_hash recomputed", recomputed(contentField(`10:00:03.000000000Z`, `10:00:03.5Z`)), verify.PhaseChain},
		{"envelope deleted", remove(2, "envelope", 2), verify.PhaseManifest},
		{"envelope duplicated", func(t *testing.T, l lines) lines {
			i := l.find(t, 1, "envelope", 2)
			return slices.Insert(l, i, l[i])
		}, verify.PhaseManifest},
		{"envelopes swapped", func(t *testing.T, l lines) lines {
			i, j := l.find(t, 1, "envelope", 2), l.find(t, 1, "envelope", 4)
			l[i], l[j] = l[j], l[i]
			return l
		}, verify.PhaseChain},
		{"envelope re-sequenced", field(1, "envelope", 2, `"sequence":2`, `"sequence":7`), verify.PhaseChain},
		{"elided re-sequenced", field(3, "elided", 1, `"sequence":1`, `"sequence":2`), verify.PhaseChain},
		{"elided content_hash changed", func(t *testing.T, l lines) lines {
			l.edit(t, l.find(t, 2, "elided", 1), func(r evidence.Record) { r.(*evidence.Elided).ContentHash[0] ^= 1 })
			return l
		}, verify.PhaseChain},
		{"elided chain_hash changed", func(t *testing.T, l lines) lines {
			l.edit(t, l.find(t, 2, "elided", 2), func(r evidence.Record) { r.(*evidence.Elided).ChainHash[31] ^= 1 })
			return l
		}, verify.PhaseChain},
		{"seal head changed", func(t *testing.T, l lines) lines {
			l.edit(t, l.find(t, 2, "seal", 1), func(r evidence.Record) { r.(*evidence.Seal).HeadChainHash[0] ^= 1 })
			return l
		}, verify.PhaseSeals}, // cross_segment fails too: segment 3 names the true head
		{"seal count changed", field(1, "seal", 1, `"envelope_count":4`, `"envelope_count":5`), verify.PhaseSeals},
		{"seal Merkle root changed", func(t *testing.T, l lines) lines {
			l.edit(t, l.find(t, 3, "seal", 1), func(r evidence.Record) { r.(*evidence.Seal).MerkleRoot[5] ^= 1 })
			return l
		}, verify.PhaseSeals},
		{"last seal removed", remove(3, "seal", 1), verify.PhaseManifest},
		{"middle seal removed", remove(1, "seal", 1), verify.PhaseManifest},
		{"attachment byte flipped", func(t *testing.T, l lines) lines {
			l.edit(t, l.find(t, 2, "attachment", 1), func(r evidence.Record) { r.(*evidence.Attachment).Data[0] ^= 1 })
			return l
		}, verify.PhaseAttachments},
		{"attachment removed", remove(2, "attachment", 1), verify.PhaseManifest},
		{"unreferenced attachment added", func(t *testing.T, l lines) lines {
			a := evidence.NewAttachment([]byte("smuggled\n"))
			return slices.Insert(l, l.find(t, 3, "elided", 1), string(a.AppendJCS(nil)))
		}, verify.PhaseManifest},
		{"manifest counts changed", func(t *testing.T, l lines) lines {
			l.sub(t, 0, `"elided":2,"envelope_count":4`, `"elided":3,"envelope_count":5`)
			return l
		}, verify.PhaseManifest},
		{"manifest counts changed, bundle_id recomputed", func(t *testing.T, l lines) lines {
			l.sub(t, 0, `"disclosed":4,"elided":0`, `"disclosed":3,"elided":1`)
			rederive(t, l)
			return l
		}, verify.PhaseManifest},
		{"bundle_id changed", func(t *testing.T, l lines) lines {
			l.sub(t, 0, `"bundle_id":"01`, `"bundle_id":"02`)
			return l
		}, verify.PhaseManifest},
		{"segment removed", func(t *testing.T, l lines) lines {
			s, e := segment(l, 2)
			return slices.Delete(l, s, e)
		}, verify.PhaseManifest},
		{"segments reordered", func(t *testing.T, l lines) lines {
			s2, e2 := segment(l, 2)
			s3, e3 := segment(l, 3)
			out := slices.Concat(l[:s2], l[s3:e3], l[s2:e2], l[e3:])
			return out
		}, verify.PhaseManifest},
		{"genesis field changed", field(2, "genesis", 1, `"recorder_id":"recorder-1"`, `"recorder_id":"recorder-2"`), verify.PhaseChain},
		{"predecessor head changed, downstream recomputed", func(t *testing.T, l lines) lines {
			l.edit(t, l.find(t, 3, "genesis", 1), func(r evidence.Record) { r.(*evidence.Genesis).Predecessor.ChainHead[0] ^= 1 })
			l.forge(t, false)
			return l
		}, verify.PhaseCrossSegment},
		{"envelope_id repeated, everything re-derived", forged(2, "envelope", true, func(t *testing.T, l lines, r evidence.Record) {
			r.(*evidence.Envelope).EnvelopeID = decode(t, l[l.find(t, 1, "envelope", 1)]).(*evidence.Envelope).EnvelopeID
		}), verify.PhaseContent},
		{"genesis names its own segment, re-derived", forged(3, "genesis", false, func(_ *testing.T, _ lines, r evidence.Record) {
			g := r.(*evidence.Genesis)
			g.Predecessor.SegmentID = g.SegmentID
		}), verify.PhaseCrossSegment},
		{"another recorder continues the segment, re-derived", forged(2, "genesis", true, func(_ *testing.T, _ lines, r evidence.Record) {
			r.(*evidence.Genesis).RecorderID = scalar.MustLabel("recorder-2")
		}), verify.PhaseCrossSegment},
		{"fork: two segments continue one, re-derived", forged(3, "genesis", true, func(t *testing.T, l lines, r evidence.Record) {
			r.(*evidence.Genesis).Predecessor.SegmentID = decode(t, l[l.find(t, 1, "genesis", 1)]).(*evidence.Genesis).SegmentID
		}), verify.PhaseCrossSegment},
		{"predecessor comes later, re-derived", forged(1, "genesis", false, func(t *testing.T, l lines, r evidence.Record) {
			seal3 := decode(t, l[l.find(t, 3, "seal", 1)]).(*evidence.Seal)
			r.(*evidence.Genesis).Predecessor = &evidence.Link{SegmentID: seal3.SegmentID, ChainHead: seal3.HeadChainHash}
		}), verify.PhaseCrossSegment},
		{"automatic seal re-dated", func(t *testing.T, l lines) lines {
			l.edit(t, l.find(t, 2, "seal", 1), func(r evidence.Record) {
				s := r.(*evidence.Seal)
				s.SealedAt, _ = scalar.TimestampOf(bundletest.Base.Add(time.Hour))
			})
			return l
		}, verify.PhaseSeals},
		{"truncated mid-line", func(t *testing.T, l lines) lines {
			i := l.find(t, 2, "envelope", 1)
			l[i] = l[i][:len(l[i])/2]
			return l[:i+1]
		}, verify.PhaseManifest},
		{"truncated at a line end", func(t *testing.T, l lines) lines { return l[:l.find(t, 2, "elided", 1)] }, verify.PhaseManifest},
		{"garbage line", func(t *testing.T, l lines) lines {
			return slices.Insert(l, l.find(t, 2, "elided", 1), "garbage")
		}, verify.PhaseManifest},
		{"blank line", func(t *testing.T, l lines) lines { return slices.Insert(l, 3, "") }, verify.PhaseManifest},
		{"not canonical", field(1, "envelope", 1, `{"actor_id"`, `{ "actor_id"`), verify.PhaseManifest},
		{"oversized line", func(t *testing.T, l lines) lines {
			return slices.Insert(l, 5, `{"x":"`+strings.Repeat("x", 9000)+`"}`)
		}, verify.PhaseManifest},
		{"unsealed record kind", func(t *testing.T, l lines) lines {
			return slices.Insert(l, 5, `{"actor_id":"a","adapter_id":"b","claimed_at":"2026-11-22T10:00:00Z","environment_id":"e","event_type":"t","payload":null}`)
		}, verify.PhaseManifest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.edit(t, split(base)).bytes()
			v := run(t, in, verify.Config{Records: evidence.Limits{Line: 8192}})
			validVerdict(t, v)
			if v.Valid() {
				t.Fatalf("verdict is valid:\n%s", v.AppendJCS(nil))
			}
			if r := v.Phase(tc.phase); r.Status != verify.Fail {
				p, f := v.First()
				t.Errorf("phase %s is %s, want fail (first failure: %s %s: %s)\n%s", tc.phase, r.Status, p, f.Code, f.Message, v.AppendJCS(nil))
			}
		})
	}
}

// rederive recomputes the manifest's bundle_id after an edit to it.
func rederive(t *testing.T, l lines) {
	t.Helper()
	m := parseManifest(t, l[0])
	g := decode(t, l[1]).(*evidence.Genesis)
	m.BundleID = m.DeriveID(g.CreatedAt)
	l[0] = string(m.AppendJCS(nil))
}

// TestForgery: a bundle changed by someone who recomputes every hash but
// holds no key is valid as far as hashes go (with the signature_skipped
// warning) and invalid under a trust root.
func TestForgery(t *testing.T) {
	key := bundletest.Key(1)
	l := split(fixture.MustBuild(t, baseStream(key), baseSelector()))
	l.sub(t, l.find(t, 2, "envelope", 1), `"tool":"search"`, `"tool":"delete"`)
	l.forge(t, true)
	forged := l.bytes()

	v := run(t, forged, verify.Config{})
	if !v.Valid() {
		t.Fatalf("forged bundle without trust root: %s", v.AppendJCS(nil))
	}
	if len(v.Warnings) != 1 || v.Warnings[0].Code != verify.WarnSignatureSkipped {
		t.Errorf("warnings = %+v, want signature_skipped only", v.Warnings)
	}
	v = run(t, forged, verify.Config{TrustRoot: bundletest.ParseTrustRoot("any_trusted_key", key)})
	p, f := v.First()
	if v.Valid() || p != verify.PhaseSignatures || f.Code != "signature.invalid" {
		t.Fatalf("forged bundle with trust root: %s", v.AppendJCS(nil))
	}
	if want := "signature by trusted key " + key.KeyID().String() + " on sequence 1 does not verify"; f.Message != want || f.Sequence != 1 {
		t.Errorf("failure = %+v, want message %q", f, want)
	}
}

// TestSignatureTampered: one flipped bit of a signature by a trusted key
// fails phase 6 alone, even when another trusted key's signature would
// satisfy the policy.
func TestSignatureTampered(t *testing.T) {
	k1, k2 := bundletest.Key(1), bundletest.Key(2)
	l := split(fixture.MustBuild(t, baseStream(k1, k2), baseSelector()))
	i := l.find(t, 3, "envelope", 1) // sequence 2
	l.edit(t, i, func(r evidence.Record) { r.(*evidence.Envelope).Signatures[1].Value[10] ^= 1 })
	v := run(t, l.bytes(), verify.Config{TrustRoot: bundletest.ParseTrustRoot("any_trusted_key", k1, k2)})
	p, f := v.First()
	if v.Valid() || p != verify.PhaseSignatures || f.Code != "signature.invalid" || f.Sequence != 2 {
		t.Fatalf("verdict: %s", v.AppendJCS(nil))
	}
	if n := len(v.Phase(verify.PhaseSignatures).Failures); n != 1 {
		t.Errorf("%d signature failures, want 1", n)
	}
	for _, ph := range v.Phases {
		if ph.Phase != verify.PhaseSignatures && ph.Status != verify.Pass {
			t.Errorf("phase %s is %s, want pass", ph.Phase, ph.Status)
		}
	}
}

// TestTamperMatrixSigned: on a bundle signed by one key, deleting,
// swapping or moving signed envelopes and re-deriving everything else —
// chain hashes, sequences, seals, links, manifest and bundle_id — leaves
// every envelope signature valid; only the seal signatures over their
// checkpoints (SPEC §11.2) catch it. Whether the forger keeps the old seal
// signatures, drops them or signs with another key, the bundle is invalid
// under the trust root, phase 6 alone failing; the untampered bundle is
// valid.
func TestTamperMatrixSigned(t *testing.T) {
	key, other := bundletest.Key(1), bundletest.Key(2)
	root := bundletest.ParseTrustRoot("any_trusted_key", key)
	base := fixture.MustBuild(t, baseStream(key), baseSelector())
	if v := run(t, base, verify.Config{TrustRoot: root}); !v.Valid() || len(v.Warnings) != 0 {
		t.Fatalf("untampered bundle: %s", v.AppendJCS(nil))
	}
	// Segment 1: A E1 E2 A E3 E4 S; segment 2: A E1 x2 x3 E4 S. E2 of
	// segment 1 references no blob, so moving it leaves blob order intact.
	edits := []struct {
		name string
		edit func(t *testing.T, l lines) lines
	}{
		{"envelope deleted", func(t *testing.T, l lines) lines {
			i := l.find(t, 1, "envelope", 2)
			return slices.Delete(l, i, i+1)
		}},
		{"envelopes swapped", func(t *testing.T, l lines) lines {
			i, j := l.find(t, 1, "envelope", 2), l.find(t, 1, "envelope", 3)
			// E3 follows its blob: keep the blob before whichever comes first.
			l[i], l[j-1], l[j] = l[j-1], l[j], l[i]
			return l
		}},
		{"envelope moved to another segment", func(t *testing.T, l lines) lines {
			i := l.find(t, 1, "envelope", 2)
			e := l[i]
			l = slices.Delete(l, i, i+1)
			return slices.Insert(l, l.find(t, 2, "envelope", 1)+1, e)
		}},
	}
	seals := []struct {
		name string
		sign func(t *testing.T, l lines)
		code string
	}{
		{"old seal signatures kept", func(*testing.T, lines) {}, "signature.invalid"},
		{"seal signatures dropped", func(t *testing.T, l lines) { l.resign(t) }, "signature.seal_unsigned"},
		{"seals re-signed by another key", func(t *testing.T, l lines) { l.resign(t, other) }, "signature.policy_unmet"},
	}
	for _, ed := range edits {
		for _, sl := range seals {
			t.Run(ed.name+", "+sl.name, func(t *testing.T) {
				l := ed.edit(t, split(base))
				l.forge(t, true)
				sl.sign(t, l)
				in := l.bytes()
				if v := run(t, in, verify.Config{}); !v.Valid() {
					t.Fatalf("the forgery is not self-consistent without a trust root: %s", v.AppendJCS(nil))
				}
				v := run(t, in, verify.Config{TrustRoot: root})
				if v.Valid() {
					t.Fatalf("verdict is valid under the trust root:\n%s", v.AppendJCS(nil))
				}
				for _, p := range v.Phases {
					if want := verify.Pass; p.Phase != verify.PhaseSignatures && p.Status != want {
						t.Errorf("phase %s is %s, want %s", p.Phase, p.Status, want)
					}
				}
				sig := v.Phase(verify.PhaseSignatures)
				for _, f := range sig.Failures {
					if f.Sequence != 0 || string(f.Code) != sl.code {
						t.Errorf("failure %s on sequence %d: %s; want only seals failing with %s", f.Code, f.Sequence, f.Message, sl.code)
					}
				}
				if len(sig.Failures) == 0 {
					t.Error("no signature failure")
				}
			})
		}
	}
}
