package verify_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/memory"
	"arxi.dev/arxi/pkg/store/storetest"
	"arxi.dev/arxi/pkg/stream"
	"arxi.dev/arxi/pkg/verify"
	"github.com/google/go-cmp/cmp"
)

var lineageRecorder = scalar.MustLabel("rec")

// chainOf builds a sealed stream segment by segment, each sealed, each
// linked to the one before, with any keys: what a store would refuse
// included, as a forger would write it.
type chainOf struct {
	t    testing.TB
	buf  bytes.Buffer
	w    *stream.Writer
	pred *evidence.Link
	n    int // events written
}

func newChain(t *testing.T) *chainOf {
	t.Helper()
	c := &chainOf{t: t}
	c.w = stream.NewWriter(&c.buf)
	return c
}

func signers(keys []*signing.Key) []sealing.Signer {
	out := make([]sealing.Signer, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}

func (c *chainOf) write(recs []evidence.Record) {
	for _, r := range recs {
		if err := c.w.Write(r); err != nil {
			c.t.Fatal(err)
		}
		if s, ok := r.(*evidence.Seal); ok {
			c.pred = &evidence.Link{SegmentID: s.SegmentID, ChainHead: s.HeadChainHash}
		}
	}
}

func (c *chainOf) sealer(keys []*signing.Key) *sealing.Sealer {
	s, err := sealing.New(sealing.Config{RecorderID: lineageRecorder, Signers: signers(keys), Start: sealing.Start{Predecessor: c.pred}, LifecycleEvents: true})
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// events appends a sealed segment of n events signed by keys.
func (c *chainOf) events(n int, keys ...*signing.Key) *chainOf {
	s := c.sealer(keys)
	var out []evidence.Record
	for i := 0; i < n; i++ {
		var err error
		if out, err = s.Append(out, storetest.Shape.Event(c.n)); err != nil {
			c.t.Fatal(err)
		}
		c.n++
	}
	c.write(s.Finish(out, true))
	return c
}

// lifecycle appends a segment holding the lifecycle envelope l signed by
// keys and its key_rotation seal.
func (c *chainOf) lifecycle(l *signing.Lifecycle, keys ...*signing.Key) *chainOf {
	return c.content(l.Content(lineageRecorder, storetest.At(c.n)), keys...)
}

// content appends a segment holding one envelope of content ct signed by
// keys and a key_rotation seal.
func (c *chainOf) content(ct evidence.Content, keys ...*signing.Key) *chainOf {
	s := c.sealer(keys)
	c.n++
	out, err := s.Append(nil, &evidence.Unsealed{Content: ct})
	if err != nil {
		c.t.Fatal(err)
	}
	if out, err = s.SealNow(out, evidence.SealKeyRotation, ct.ClaimedAt); err != nil {
		c.t.Fatal(err)
	}
	c.write(out)
	return c
}

func (c *chainOf) bytes() []byte {
	if err := c.w.Flush(); err != nil {
		c.t.Fatal(err)
	}
	return c.buf.Bytes()
}

var lc = storetest.LifecycleOf

func rootOf(t *testing.T, p signing.Policy, keys ...*signing.Key) *signing.TrustRoot {
	var tk []signing.TrustedKey
	for _, k := range keys {
		tk = append(tk, k.TrustedKey())
	}
	tr, err := signing.NewTrustRoot(tk, p)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestLineage is the table of the verifier's lineage walk (SPEC §11.1):
// which keys phase 6 trusts across enrolments, rotations and break-glass
// rotations, for every policy, and which lifecycle envelopes fail it.
func TestLineage(t *testing.T) {
	a, b, c, w := storetest.Key(1), storetest.Key(2), storetest.Key(3), storetest.Key(9)
	any := signing.Policy{Kind: signing.AnyTrustedKey, FollowRotations: true}
	all := signing.Policy{Kind: signing.AllMustSign, FollowRotations: true}
	two := signing.Policy{Kind: signing.Threshold, Threshold: 2, FollowRotations: true}
	static := signing.Policy{Kind: signing.AnyTrustedKey}
	normal := func(ch *chainOf) *chainOf {
		return ch.events(2).lifecycle(lc(signing.Enrolled, 1, nil, a), a).events(2, a).
			lifecycle(lc(signing.Rotated, 2, a, b), a, b).events(2, b)
	}
	for _, tc := range []struct {
		name     string
		build    func(*chainOf) *chainOf
		root     *signing.TrustRoot
		failures []errcode.Code
		warnings []string
	}{
		{"follows a rotation", normal, rootOf(t, any, a), []errcode.Code{
			// the two unsigned events before the enrolment
			errcode.SignaturePolicy, errcode.SignaturePolicy}, nil},
		{"without follow_rotations the new key is not trusted", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a).lifecycle(lc(signing.Rotated, 2, a, b), a, b).events(2, b)
		}, rootOf(t, static, a), []errcode.Code{errcode.SignaturePolicy, errcode.SignaturePolicy}, []string{"untrusted_signature"}},
		{"the old key is not trusted after the rotation", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a).lifecycle(lc(signing.Rotated, 2, a, b), a, b).events(1, b).events(1, a)
		}, rootOf(t, any, a), []errcode.Code{errcode.SignaturePolicy}, []string{"untrusted_signature"}},
		{"all_must_sign across a rotation", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a).events(2, a).lifecycle(lc(signing.Rotated, 2, a, b), a, b).events(2, b)
		}, rootOf(t, all, a), nil, nil},
		{"threshold with a changing signer set", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a, w).events(2, a, w).
				lifecycle(lc(signing.Rotated, 2, a, b), a, b).events(2, b, w)
		}, rootOf(t, two, a, w), nil, nil},
		{"threshold: the retired key no longer counts", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a, w).
				lifecycle(lc(signing.Rotated, 2, a, b), a, b).events(1, a, w).events(1, b, w)
		}, rootOf(t, two, a, w), []errcode.Code{errcode.SignaturePolicy}, []string{"untrusted_signature"}},
		{"break-glass to a key the root does not list", func(ch *chainOf) *chainOf {
			return normal(ch).lifecycle(lc(signing.BreakGlass, 3, b, c), c).events(1, c)
		}, rootOf(t, any, a), []errcode.Code{errcode.SignaturePolicy, errcode.SignaturePolicy, errcode.KeyRotationUntrusted,
			errcode.SignaturePolicy, errcode.SignaturePolicy}, []string{"untrusted_signature", "break_glass_rotation"}},
		{"break-glass to a key the root lists", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a).lifecycle(lc(signing.Rotated, 2, a, b), a, b).
				lifecycle(lc(signing.BreakGlass, 3, b, c), c).events(1, c).events(1, b)
		}, rootOf(t, any, a, c), []errcode.Code{errcode.SignaturePolicy}, []string{"untrusted_signature", "break_glass_rotation"}},
		{"a rotation from a key not trusted", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a).lifecycle(lc(signing.Rotated, 2, a, b), a, b).events(1, b)
		}, rootOf(t, any, c), []errcode.Code{errcode.SignaturePolicy, errcode.KeyRotationUntrusted, errcode.SignaturePolicy, errcode.SignaturePolicy},
			[]string{"untrusted_signature", "untrusted_signature"}},
		{"skipped epoch", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a).lifecycle(lc(signing.Rotated, 3, a, b), a, b).events(1, b)
		}, rootOf(t, any, a), []errcode.Code{errcode.KeyRotationInvalid, errcode.SignaturePolicy}, []string{"untrusted_signature"}},
		{"repeated epoch", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a).lifecycle(lc(signing.Rotated, 2, a, b), a, b).
				lifecycle(lc(signing.Rotated, 2, b, c), b, c)
		}, rootOf(t, any, a), []errcode.Code{errcode.KeyRotationInvalid}, []string{"untrusted_signature"}},
		{"a chain's first lifecycle envelope is not at epoch 1", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Rotated, 2, a, b), a, b)
		}, rootOf(t, any, a), []errcode.Code{errcode.KeyRotationInvalid}, []string{"untrusted_signature"}},
		{"old key not the current one", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a).lifecycle(lc(signing.Rotated, 2, c, b), c, b)
		}, rootOf(t, any, a, c), []errcode.Code{errcode.KeyRotationInvalid}, []string{"untrusted_signature"}},
		{"break-glass signed by the old key only", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a).lifecycle(lc(signing.BreakGlass, 2, a, b), a).events(1, b)
		}, rootOf(t, any, a), []errcode.Code{errcode.KeyRotationInvalid, errcode.SignaturePolicy}, []string{"untrusted_signature"}},
		{"rotation signed by the new key only", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a).lifecycle(lc(signing.Rotated, 2, a, b), b)
		}, rootOf(t, any, a), []errcode.Code{errcode.KeyRotationInvalid, errcode.SignaturePolicy}, []string{"untrusted_signature"}},
		{"lifecycle envelopes are checked without follow_rotations too", func(ch *chainOf) *chainOf {
			return ch.lifecycle(lc(signing.Enrolled, 1, nil, a), a).lifecycle(lc(signing.Rotated, 3, a, b), a, b)
		}, rootOf(t, signing.Policy{Kind: signing.AnyTrustedKey}, a, b), []errcode.Code{errcode.KeyRotationInvalid}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := tc.build(newChain(t)).bytes()
			// As a bare stream and as a bundle of it.
			for _, in := range [][]byte{stream, fixture.MustBuild(t, stream, bundle.Selector{Stream: true})} {
				checkLineage(t, in, tc.root, tc.failures, tc.warnings)
			}
		})
	}
	// A lifecycle payload that does not decode fails phase 6 too, as does
	// one dated by another actor than its segment's recorder.
	bad := lc(signing.Enrolled, 1, nil, a).Content(lineageRecorder, scalar.Timestamp{})
	bad.Payload = strings.Replace(bad.Payload, `"reason":null}`, `"reason":null,"x":1}`, 1)
	other := lc(signing.Enrolled, 1, nil, a).Content(scalar.MustLabel("someone-else"), scalar.Timestamp{})
	for _, ct := range []evidence.Content{bad, other} {
		v := run(t, newChain(t).content(ct, a).bytes(), verify.Config{TrustRoot: rootOf(t, any, a)})
		if _, f := v.First(); f == nil || f.Code != errcode.KeyRotationInvalid {
			t.Errorf("%s: first failure %+v, want %s", ct.Payload, f, errcode.KeyRotationInvalid)
		}
	}
}

// checkLineage verifies in against root and compares phase 6's failure
// codes and the warnings (but unsealed_segment and omitted_parent) with
// the wanted ones; every other phase must pass.
func checkLineage(t *testing.T, in []byte, root *signing.TrustRoot, failures []errcode.Code, warnings []string) {
	t.Helper()
	v := run(t, in, verify.Config{TrustRoot: root})
	// The envelopes' failures; a seal, signed by the keys of its segment's
	// envelopes, fails with them (and with the status).
	var got []errcode.Code
	for _, f := range v.Phase(verify.PhaseSignatures).Failures {
		if f.Sequence > 0 {
			got = append(got, f.Code)
		}
	}
	if diff := cmp.Diff(failures, got); diff != "" {
		t.Errorf("phase 6 failures (-want +got):\n%s\n%v", diff, v.Phase(verify.PhaseSignatures).Failures)
	}
	var ws []string
	for _, w := range v.Warnings {
		if w.Code != verify.WarnUnsealedSegment {
			ws = append(ws, w.Code)
		}
	}
	if diff := cmp.Diff(warnings, ws); diff != "" {
		t.Errorf("warnings (-want +got):\n%s\n%v", diff, v.Warnings)
	}
	for p := verify.Phase(1); p <= verify.NumPhases; p++ {
		if p != verify.PhaseSignatures && len(v.Phase(p).Failures) > 0 {
			t.Errorf("phase %d fails: %v", p, v.Phase(p).Failures)
		}
	}
	if (len(failures) == 0) != v.Valid() {
		t.Errorf("status %s with failures %v", v.Status(), got)
	}
}

// TestLifecycleEndToEnd: three new keys; a store enrols the first,
// rotates to the second and breaks glass to the third, with events signed
// by the key of the day between (each rotation continuing the open
// segment of those events); its bundles verify against a trust root that
// names only the first key, following rotations: valid through the
// enrolment and the rotation, key.rotation_untrusted at the break-glass,
// unless the root names the third key too. A bundle of one trace discloses
// the lifecycle envelopes of its segments besides what it selects.
func TestLifecycleEndToEnd(t *testing.T) {
	var keys [3]*signing.Key
	for i := range keys {
		k, err := signing.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	a, b, c := keys[0], keys[1], keys[2]
	ctx := context.Background()
	s, err := store.Open(ctx, memory.New(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendAll := func(in []byte) { storetest.Add(t, s, in) }
	at := storetest.At
	events := func(from, to int, k *signing.Key, sealAtEnd bool) {
		t.Helper()
		appendAll(storetest.Continue(t, s, sealing.Config{Signers: []sealing.Signer{k}}, storetest.Events(from, to), sealAtEnd))
	}
	appendAll(storetest.Rotate(t, s, storetest.LifecycleOf(signing.Enrolled, 1, nil, a), at(0), a))
	events(1, 5, a, false)
	appendAll(storetest.Rotate(t, s, storetest.LifecycleOf(signing.Rotated, 2, a, b), at(5), a, b))
	events(6, 10, b, false)
	appendAll(storetest.Rotate(t, s, storetest.LifecycleOf(signing.BreakGlass, 3, b, c), at(10), c))
	events(11, 14, c, true)

	bundleOf := func(sel bundle.Selector) []byte {
		t.Helper()
		if err := sel.Normalize(); err != nil {
			t.Fatal(err)
		}
		sn, err := s.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer sn.Close()
		var out bytes.Buffer
		if _, err := bundle.Build(ctx, storesource.New(sn), sel, &out, bundle.Options{}); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	follow := signing.Policy{Kind: signing.AnyTrustedKey, FollowRotations: true}
	U, P := errcode.KeyRotationUntrusted, errcode.SignaturePolicy
	trace := bundle.Selector{TraceIDs: []scalar.Label{scalar.MustLabel("trace-2")}} // events 2 and 6: the segments of both rotations
	for _, tc := range []struct {
		name     string
		sel      bundle.Selector
		root     *signing.TrustRoot
		failures []errcode.Code
		warnings []string
	}{
		// The break-glass envelope and its seal are signed by c only, and
		// c signs the three events after it and their seal.
		{"whole store, root of the first key", bundle.Selector{All: true}, rootOf(t, follow, a), []errcode.Code{U, P, P, P, P, P, P},
			[]string{verify.WarnUntrustedSignature, verify.WarnBreakGlassRotation}},
		{"whole store, root of the first and the break-glass key", bundle.Selector{All: true}, rootOf(t, follow, a, c), nil,
			[]string{verify.WarnBreakGlassRotation}},
		{"one trace, root of the first key", trace, rootOf(t, follow, a), []errcode.Code{U, P, P},
			[]string{verify.WarnUntrustedSignature, verify.WarnOmittedParent, verify.WarnBreakGlassRotation}},
		{"one trace, root of the first and the break-glass key", trace, rootOf(t, follow, a, c), nil,
			[]string{verify.WarnOmittedParent, verify.WarnBreakGlassRotation}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := bundleOf(tc.sel)
			v := run(t, in, verify.Config{TrustRoot: tc.root})
			var got []errcode.Code
			for _, f := range v.Phase(verify.PhaseSignatures).Failures {
				got = append(got, f.Code)
			}
			if diff := cmp.Diff(tc.failures, got); diff != "" {
				t.Errorf("phase 6 failures (-want +got):\n%s\n%v", diff, v.Phase(verify.PhaseSignatures).Failures)
			}
			var ws []string
			for _, w := range v.Warnings {
				ws = append(ws, w.Code)
			}
			if diff := cmp.Diff(tc.warnings, ws); diff != "" {
				t.Errorf("warnings (-want +got):\n%s\n%v", diff, v.Warnings)
			}
			for p := verify.Phase(1); p <= verify.NumPhases; p++ {
				if p != verify.PhaseSignatures && len(v.Phase(p).Failures) > 0 {
					t.Errorf("phase %d fails: %v", p, v.Phase(p).Failures)
				}
			}
			if n := strings.Count(string(in), `"event_type":"system.adapter.key_`); n != strings.Count(string(in), `"adapter_id":"arxi"`) || n == 0 {
				t.Errorf("the bundle discloses %d lifecycle envelopes", n)
			}
			if tc.sel.All {
				return
			}
			// The lifecycle envelopes of the trace's segments are
			// disclosed; the selector stays the trace.
			if !strings.Contains(split(in)[0], `"selector":{"trace_ids":["trace-2"]}`) {
				t.Errorf("manifest selector: %s", split(in)[0])
			}
			if n := strings.Count(string(in), `"event_type":"system.adapter.key_rotated`); n != 2 {
				t.Errorf("the trace's bundle discloses %d rotation envelopes, want 2", n)
			}
		})
	}
}
