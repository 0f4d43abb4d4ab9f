package verify_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/verify"
	"arxi.dev/arxi/pkg/zstdio"
	"github.com/google/go-cmp/cmp"
)

func keys(seeds ...byte) []*signing.Key {
	var ks []*signing.Key
	for _, s := range seeds {
		ks = append(ks, bundletest.Key(s))
	}
	return ks
}

func codes(ws []verify.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Code)
	}
	return out
}

// TestPolicies runs each trust-root policy against bundles signed by
// different sets of keys (SPEC §11).
func TestPolicies(t *testing.T) {
	for _, tc := range []struct {
		name     string
		signers  []byte // key seeds; 0 for unsigned
		policy   string
		trusted  []byte
		valid    bool
		code     string   // the first signatures failure
		warnings []string // beyond none
	}{
		{"any: signed by the trusted key", []byte{1}, "any_trusted_key", []byte{1}, true, "", nil},
		{"any: one of two trusted keys", []byte{2}, "any_trusted_key", []byte{1, 2}, true, "", nil},
		{"any: signed by an unknown key only", []byte{3}, "any_trusted_key", []byte{1}, false, "signature.policy_unmet", []string{"untrusted_signature"}},
		{"any: trusted and unknown keys", []byte{1, 3}, "any_trusted_key", []byte{1}, true, "", []string{"untrusted_signature"}},
		{"any: unsigned", nil, "any_trusted_key", []byte{1}, false, "signature.policy_unmet", nil},
		{"all: both keys", []byte{1, 2}, "all_must_sign", []byte{1, 2}, true, "", nil},
		{"all: one key missing", []byte{1}, "all_must_sign", []byte{1, 2}, false, "signature.policy_unmet", nil},
		{"all: both keys and an unknown one", []byte{1, 2, 3}, "all_must_sign", []byte{1, 2}, true, "", []string{"untrusted_signature"}},
		{"all: unsigned", nil, "all_must_sign", []byte{1, 2}, false, "signature.policy_unmet", nil},
		{"threshold 2: two of three", []byte{1, 3}, "threshold:2", []byte{1, 2, 3}, true, "", nil},
		{"threshold 2: one of three", []byte{2}, "threshold:2", []byte{1, 2, 3}, false, "signature.policy_unmet", nil},
		{"threshold 2: one trusted, one unknown", []byte{1, 4}, "threshold:2", []byte{1, 2, 3}, false, "signature.policy_unmet", []string{"untrusted_signature"}},
		{"threshold 2: unsigned", nil, "threshold:2", []byte{1, 2, 3}, false, "signature.policy_unmet", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := fixture.MustBuild(t, baseStream(keys(tc.signers...)...), baseSelector())
			v := run(t, b, verify.Config{TrustRoot: bundletest.ParseTrustRoot(tc.policy, keys(tc.trusted...)...)})
			if v.Valid() != tc.valid {
				t.Fatalf("valid = %v, want %v: %s", v.Valid(), tc.valid, v.AppendJCS(nil))
			}
			sig := v.Phase(verify.PhaseSignatures)
			if sig.Checked != 11 {
				t.Errorf("signatures checked %d records, want the 8 disclosed envelopes and the 3 seals", sig.Checked)
			}
			if tc.code != "" {
				// Seals are held to the policy as envelopes are (SPEC
				// §11.2); an unsigned seal fails with seal_unsigned.
				sealCode := tc.code
				if tc.signers == nil {
					sealCode = "signature.seal_unsigned"
				}
				var envs, seals int
				for _, f := range sig.Failures {
					switch {
					case f.Sequence > 0 && string(f.Code) == tc.code:
						envs++
					case f.Sequence == 0 && string(f.Code) == sealCode && strings.HasPrefix(f.Message, "the seal of segment "+f.SegmentID.String()):
						seals++
					}
				}
				if envs != 8 || seals != 3 || len(sig.Failures) != 11 {
					t.Errorf("signature failures = %+v, want 8 envelopes of %s and 3 seals of %s", sig.Failures, tc.code, sealCode)
				}
			}
			if diff := cmp.Diff(tc.warnings, codes(v.Warnings)); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			for _, p := range v.Phases {
				if p.Phase != verify.PhaseSignatures && p.Status != verify.Pass {
					t.Errorf("phase %s = %s, want pass", p.Phase, p.Status)
				}
			}
		})
	}
}

// TestUntrustedWarning names the unknown key and counts its envelopes.
func TestUntrustedWarning(t *testing.T) {
	b := fixture.MustBuild(t, baseStream(keys(1, 3)...), baseSelector())
	v := run(t, b, verify.Config{TrustRoot: bundletest.ParseTrustRoot("any_trusted_key", keys(1)...)})
	want := []verify.Warning{{Code: verify.WarnUntrustedSignature, Message: "key " + bundletest.Key(3).KeyID().String() +
		" is not in the trust root; its signatures on 8 envelopes and 3 seals were ignored"}}
	if diff := cmp.Diff(want, v.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// TestDeterministic: the same bundle gives the same verdict bytes, with
// any number of workers and any GOMAXPROCS, plain or compressed.
func TestDeterministic(t *testing.T) {
	// Every envelope fails the policy (the root trusts another key) and
	// one content hash is wrong, so the order of results matters.
	b := fixture.MustBuild(t, bundletest.Stream(bundletest.Options{Envelopes: 600, PerSegment: 250, AttachEvery: 5, Keys: keys(1)}), bundle.Selector{All: true})
	l := split(b)
	l.sub(t, l.find(t, 2, "envelope", 77), `"tool":"search"`, `"tool":"other"`)
	b = l.bytes()
	cfg := verify.Config{TrustRoot: bundletest.ParseTrustRoot("any_trusted_key", keys(2)...)}
	want := run(t, b, cfg).AppendJCS(nil)
	z := compress(t, b)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		for _, workers := range []int{0, 1, 3, 8} {
			cfg.Workers = workers
			for _, in := range [][]byte{b, z} {
				if got := run(t, in, cfg).AppendJCS(nil); !bytes.Equal(got, want) {
					t.Fatalf("GOMAXPROCS %d, %d workers: verdict differs:\n%s\n%s", procs, workers, got, want)
				}
			}
		}
	}
	if !strings.Contains(string(want), `"failures_omitted":503`) {
		t.Errorf("verdict does not count the 503 failures (500 envelopes, 3 seals) beyond the first 100: %s", want)
	}
}

func compress(t testing.TB, b []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	w, err := zstdio.NewWriter(&z)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// TestCompressed: a zstd bundle verifies like the plain one; a damaged or
// cut compressed file is invalid, not an error.
func TestCompressed(t *testing.T) {
	b := fixture.MustBuild(t, baseStream(), baseSelector())
	z := compress(t, b)
	if v := run(t, z, verify.Config{}); !v.Valid() {
		t.Fatalf("compressed bundle: %s", v.AppendJCS(nil))
	}
	bad := append([]byte{}, z...)
	for i := len(bad) / 2; i < len(bad)/2+8; i++ {
		bad[i] ^= 0xFF
	}
	for name, in := range map[string][]byte{"truncated": z[:len(z)*2/3], "corrupt": bad} {
		v, err := verify.Bundle(context.Background(), bytes.NewReader(in), verify.Config{})
		if err != nil {
			// Damage that reaches line 1 cannot be told from a non-bundle.
			if errcode.CodeOf(err) != errcode.InputZstd {
				t.Errorf("%s: error %v, want input.zstd", name, err)
			}
			continue
		}
		// A cut frame is found by the frame walk; a corrupt block may
		// decompress to other text, which a later phase catches.
		if p, f := v.First(); v.Valid() {
			t.Errorf("%s: verdict %s", name, v.AppendJCS(nil))
		} else {
			t.Logf("%s: phase %s: %s: %s", name, p, f.Code, f.Message)
		}
	}
}

// TestBareStream verifies a sealed stream without a manifest.
func TestBareStream(t *testing.T) {
	open := bundletest.Stream(bundletest.Options{Envelopes: 10, PerSegment: 4, AttachEvery: 3, LeaveOpen: true})
	v := run(t, open, verify.Config{})
	if !v.Valid() || !v.BundleID.IsZero() {
		t.Fatalf("stream: %s", v.AppendJCS(nil))
	}
	if diff := cmp.Diff([]string{"signature_skipped", "unsealed_segment"}, codes(v.Warnings)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if want := (verify.Summary{Segments: 3, Envelopes: 10, Attachments: 3}); v.Summary != want {
		t.Errorf("summary = %+v, want %+v", v.Summary, want)
	}
	// An elided record has no place in a stream.
	l := split(open)
	l.edit(t, l.find(t, 1, "envelope", 2), func(r evidence.Record) {})
	i := l.find(t, 1, "envelope", 2)
	l[i] = string(decode(t, l[i]).(*evidence.Envelope).Elided().AppendJCS(nil))
	v = run(t, l.bytes(), verify.Config{})
	if p, f := v.First(); v.Valid() || p != verify.PhaseManifest || f.Code != errcode.InputUnexpectedRecord {
		t.Errorf("stream with an elided record: %s", v.AppendJCS(nil))
	}
	// A stream whose first segment continues one it does not hold.
	pred := bundletest.Options{Envelopes: 2, Predecessor: &evidence.Link{SegmentID: [16]byte{1, 0, 0, 0, 0, 0, 0x70, 0, 0x80}, ChainHead: [32]byte{9}}}
	v = run(t, bundletest.Stream(pred), verify.Config{})
	if diff := cmp.Diff([]string{"signature_skipped", "omitted_parent"}, codes(v.Warnings)); !v.Valid() || diff != "" {
		t.Errorf("stream with a predecessor: warnings (-want +got):\n%s\n%s", diff, v.AppendJCS(nil))
	}
	// Two segments continuing one predecessor that is not included: a
	// fork all the same (SPEC §10, phase 5).
	other := pred
	other.LineSize = 1000 // other events, so another segment id
	v = run(t, append(bundletest.Stream(pred), bundletest.Stream(other)...), verify.Config{})
	if p, f := v.First(); v.Valid() || p != verify.PhaseCrossSegment || !strings.Contains(f.Message, "the chain forks") {
		t.Errorf("fork on an omitted predecessor: %s", v.AppendJCS(nil))
	}
}

// TestPhases: a subset runs only those phases; the others are skipped,
// their faults go unreported, and the verdict carries phases_skipped
// (SPEC §10), which --strict counts.
func TestPhases(t *testing.T) {
	l := split(fixture.MustBuild(t, baseStream(), baseSelector()))
	// A seal dated other than at its last envelope: only phase 7 sees it
	// (a changed Merkle root would fail phase 1 too, against the manifest).
	late, _ := scalar.TimestampOf(bundletest.Base.Add(time.Hour))
	l.edit(t, l.find(t, 1, "seal", 1), func(r evidence.Record) { r.(*evidence.Seal).SealedAt = late })
	b := l.bytes()
	for _, tc := range []struct {
		phases   string
		valid    bool
		run      []verify.Phase
		warnings []string
	}{
		{"1,3,chain", true, []verify.Phase{1, 3, 4}, []string{"phases_skipped"}},
		{"seals", false, []verify.Phase{7}, []string{"phases_skipped"}},
		{"1,2,3,4,5,6,7", false, []verify.Phase{1, 2, 3, 4, 5, 7}, []string{"signature_skipped"}}, // 6: no trust root
	} {
		set, err := verify.ParsePhases(tc.phases)
		if err != nil {
			t.Fatal(err)
		}
		v := run(t, b, verify.Config{Phases: set})
		if v.Valid() != tc.valid {
			t.Errorf("--phases %s: valid = %v, want %v", tc.phases, v.Valid(), tc.valid)
		}
		if diff := cmp.Diff(tc.warnings, codes(v.Warnings)); diff != "" {
			t.Errorf("--phases %s: warnings (-want +got):\n%s", tc.phases, diff)
		}
		for _, p := range v.Phases {
			ran := p.Status != verify.Skipped
			want := false
			for _, r := range tc.run {
				want = want || r == p.Phase
			}
			if ran != want || (!ran && p.Checked != 0) {
				t.Errorf("--phases %s: phase %s is %s (checked %d)", tc.phases, p.Phase, p.Status, p.Checked)
			}
		}
	}
	for _, bad := range []string{"", "0", "8", "chains", "1,,2"} {
		if _, err := verify.ParsePhases(bad); errcode.CodeOf(err) != errcode.UsageInvalid {
			t.Errorf("ParsePhases(%q) = %v, want usage.invalid", bad, err)
		}
	}
}

// TestLimits: bounded-work limits are checked against the manifest before
// any record is read, and again as records arrive.
func TestLimits(t *testing.T) {
	b := fixture.MustBuild(t, baseStream(), baseSelector()) // 3 segments, 12 envelopes, 3 blobs
	s := baseStream()
	for _, tc := range []struct {
		name string
		in   []byte
		lim  bundle.Limits
		ok   bool
	}{
		{"defaults", b, bundle.Limits{}, true},
		{"envelopes at the limit", b, bundle.Limits{Envelopes: 12}, true},
		{"envelopes over", b, bundle.Limits{Envelopes: 11}, false},
		{"segments over", b, bundle.Limits{Segments: 2}, false},
		{"per segment over", b, bundle.Limits{EnvelopesPerSegment: 3}, false},
		{"attachments over", b, bundle.Limits{Attachments: 2}, false},
		{"stream: envelopes over", s, bundle.Limits{Envelopes: 11}, false},
		{"stream: segments over", s, bundle.Limits{Segments: 2}, false},
		{"stream: per segment over", s, bundle.Limits{EnvelopesPerSegment: 3}, false},
		{"stream: attachments over", s, bundle.Limits{Attachments: 2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := verify.Bundle(context.Background(), bytes.NewReader(tc.in), verify.Config{Limits: tc.lim})
			switch {
			case tc.ok && (err != nil || !v.Valid()):
				t.Fatalf("err %v", err)
			case !tc.ok && errcode.CodeOf(err) != errcode.BundleLimitExceeded:
				t.Fatalf("err %v, want bundle.limit_exceeded", err)
			}
		})
	}
	// A manifest that understates its counts is caught as records arrive.
	l := split(b)
	l.sub(t, 0, `"disclosed":4,"elided":0,"envelope_count":4`, `"disclosed":1,"elided":0,"envelope_count":1`)
	rederive(t, l)
	_, err := verify.Bundle(context.Background(), bytes.NewReader(l.bytes()), verify.Config{Limits: bundle.Limits{Envelopes: 9}})
	if errcode.CodeOf(err) != errcode.BundleLimitExceeded {
		t.Errorf("understated manifest: err %v, want bundle.limit_exceeded", err)
	}
}

// TestNotVerifiable: input that is not a bundle or a stream is an error,
// not a verdict.
func TestNotVerifiable(t *testing.T) {
	b := fixture.MustBuild(t, baseStream(), baseSelector())
	manifest, _, _ := strings.Cut(string(b), "\n")
	for _, tc := range []struct {
		name string
		in   string
		code errcode.Code
	}{
		{"empty", "", errcode.BundleMalformed},
		{"garbage", "garbage\n", errcode.InputMalformedJSON},
		{"not a record", `{"a":1}` + "\n", errcode.BundleMalformed},
		{"an envelope first", split(b)[3] + "\n", errcode.InputWrongKind},
		{"unsealed events", `{"actor_id":"a","adapter_id":"b","claimed_at":"2026-11-22T10:00:00Z","environment_id":"e","event_type":"t","payload":null}` + "\n", errcode.InputWrongKind},
		{"unsealed events, not canonical", `{"event_type":"t", "actor_id":"a"}` + "\n", errcode.InputWrongKind},
		{"receipts", `{"chain_hash":"sha256:00","envelope_id":"x","record":"receipt","segment_id":"y","sequence":1}` + "\n", errcode.InputWrongKind},
		{"a verdict", `{"record":"verdict","status":"valid"}` + "\n", errcode.InputWrongKind},
		{"an SQLite file", "SQLite format 3\x00\x10\x00\x02\x02" + strings.Repeat("\x00", 90), errcode.InputWrongKind},
		{"malformed manifest", strings.Replace(manifest, `"bundle_version":1`, `"bundle_version":"1"`, 1) + "\n", errcode.BundleMalformed},
		{"zstd garbage", "\x28\xb5\x2f\xfdgarbage", errcode.InputZstd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := verify.Bundle(context.Background(), strings.NewReader(tc.in), verify.Config{})
			if v != nil || errcode.CodeOf(err) != tc.code {
				t.Fatalf("Bundle = %v, %v; want no verdict and %s", v, err, tc.code)
			}
		})
	}
}

// TestUnsupportedVersion: a manifest of another version is a phase-1
// failure, not an error.
func TestUnsupportedVersion(t *testing.T) {
	l := split(fixture.MustBuild(t, baseStream(), baseSelector()))
	l.sub(t, 0, `"bundle_version":1`, `"bundle_version":2`)
	rederive(t, l)
	v := run(t, l.bytes(), verify.Config{})
	if p, f := v.First(); v.Valid() || p != verify.PhaseManifest || !strings.Contains(f.Message, "bundle_version 2 is not supported") {
		t.Errorf("verdict: %s", v.AppendJCS(nil))
	}
}

// TestContextCancelled: verification stops when the context ends.
func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := bundletest.Stream(bundletest.Options{Envelopes: 3000})
	_, err := verify.Bundle(ctx, bytes.NewReader(b), verify.Config{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestProgressTotal: a bundle's manifest gives the number of lines to
// read, so progress can show a percentage.
func TestProgressTotal(t *testing.T) {
	b := fixture.MustBuild(t, baseStream(), baseSelector())
	var total int64
	run(t, b, verify.Config{ProgressTotal: func(n int64) { total = n }})
	if want := int64(bytes.Count(b, []byte("\n"))); total != want {
		t.Errorf("ProgressTotal = %d, want the %d lines of the bundle", total, want)
	}
	total = -1
	run(t, baseStream(), verify.Config{ProgressTotal: func(n int64) { total = n }})
	if total != -1 {
		t.Errorf("a bare stream has no total, got %d", total)
	}
}
