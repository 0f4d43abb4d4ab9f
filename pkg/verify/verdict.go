package verify

import (
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
)

// VerdictVersion is the verdict_version this package writes.
const VerdictVersion = 1

// MaxFailures is how many failures a phase lists; the rest are counted in
// PhaseResult.Omitted (the verdict's "failures_omitted").
const MaxFailures = 100

// Phase is one of the seven verification phases of SPEC §10.
type Phase int

// The phases, in the order they are reported.
const (
	PhaseManifest Phase = iota + 1
	PhaseAttachments
	PhaseContent
	PhaseChain
	PhaseCrossSegment
	PhaseSignatures
	PhaseSeals
)

// NumPhases is the number of phases.
const NumPhases = 7

var phaseNames = [...]string{"", "manifest", "attachments", "content", "chain", "cross_segment", "signatures", "seals"}

// String returns the phase's name.
func (p Phase) String() string {
	if p >= 1 && int(p) <= NumPhases {
		return phaseNames[p]
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// PhaseSet is a set of phases; the zero value means all of them.
type PhaseSet uint8

// AllPhases holds every phase.
const AllPhases PhaseSet = 1<<(NumPhases+1) - 2

// Has reports whether p is in the set (every phase, for the zero set).
func (s PhaseSet) Has(p Phase) bool { return s == 0 || s&(1<<p) != 0 }

// skipped names the phases not in the set, in order.
func (s PhaseSet) skipped() []string {
	var names []string
	for p := PhaseManifest; p <= PhaseSeals; p++ {
		if !s.Has(p) {
			names = append(names, p.String())
		}
	}
	return names
}

// ParsePhases parses a comma-separated list of phase numbers and names,
// such as "1,3,chain". Errors are usage.invalid.
func ParsePhases(list string) (PhaseSet, error) {
	var s PhaseSet
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		p := Phase(0)
		if n, err := strconv.Atoi(f); err == nil && n >= 1 && n <= NumPhases {
			p = Phase(n)
		}
		for i, name := range phaseNames {
			if i > 0 && name == f {
				p = Phase(i)
			}
		}
		if p == 0 {
			return 0, errcode.New(errcode.UsageInvalid, "unknown phase %q: want 1-7 or manifest, attachments, content, chain, cross_segment, signatures, seals", f)
		}
		s |= 1 << p
	}
	return s, nil
}

// Status is a phase's or a verdict's outcome.
type Status string

// The statuses. A verdict is valid or invalid; a phase passes, fails or
// is skipped.
const (
	Valid   Status = "valid"
	Invalid Status = "invalid"
	Pass    Status = "pass"
	Fail    Status = "fail"
	Skipped Status = "skipped"
)

// Failure names one bad record: its segment and sequence when it has them,
// and what is wrong in words a person understands.
type Failure struct {
	Code      errcode.Code
	Message   string
	SegmentID scalar.UUID // zero when not applicable
	Sequence  uint64      // zero when not applicable
}

// PhaseResult is the outcome of one phase.
type PhaseResult struct {
	Phase    Phase
	Status   Status
	Checked  uint64    // records the phase checked (see the package doc)
	Failures []Failure // the first MaxFailures, in input order
	Omitted  uint64    // failures beyond MaxFailures
}

func (r *PhaseResult) add(f Failure) {
	if len(r.Failures) < MaxFailures {
		r.Failures = append(r.Failures, f)
	} else {
		r.Omitted++
	}
}

// Warning codes (SPEC §10).
const (
	WarnSignatureSkipped   = "signature_skipped"
	WarnUntrustedSignature = "untrusted_signature"
	WarnOmittedParent      = "omitted_parent"
	WarnUnsealedSegment    = "unsealed_segment"
	WarnPhasesSkipped      = "phases_skipped"
	WarnBreakGlassRotation = "break_glass_rotation"
)

// Warning is something a verifier could not establish that does not make
// the evidence invalid. Every warning bears on policy: --strict treats any
// of them as a failure.
type Warning struct {
	Code    string
	Message string
}

// Summary counts what the input held.
type Summary struct {
	Segments    uint64 // genesis records
	Envelopes   uint64 // disclosed envelope records
	Elided      uint64 // elided records
	Attachments uint64 // blob records
}

// Verdict is the result of verifying a bundle or a sealed stream.
type Verdict struct {
	BundleID scalar.UUID // zero for a bare sealed stream
	// ManifestSHA256 is the SHA-256 of the manifest line, without its
	// newline: the bundle the verdict judged (zero for a bare stream).
	ManifestSHA256 scalar.Digest
	Phases         [NumPhases]PhaseResult
	Summary        Summary
	Warnings       []Warning
}

// Status is Valid when no phase failed.
func (v *Verdict) Status() Status {
	for i := range v.Phases {
		if v.Phases[i].Status == Fail {
			return Invalid
		}
	}
	return Valid
}

// Valid reports whether no phase failed.
func (v *Verdict) Valid() bool { return v.Status() == Valid }

// First returns the first failure of the first failing phase, or nil.
func (v *Verdict) First() (Phase, *Failure) {
	for i := range v.Phases {
		if len(v.Phases[i].Failures) > 0 {
			return v.Phases[i].Phase, &v.Phases[i].Failures[0]
		}
	}
	return 0, nil
}

// Phase returns the result of phase p.
func (v *Verdict) Phase(p Phase) *PhaseResult { return &v.Phases[p-1] }

type jsonVerdict struct {
	BundleID       *string       `json:"bundle_id"`
	ManifestSHA256 *string       `json:"manifest_sha256"`
	Phases         []jsonPhase   `json:"phases"`
	Record         string        `json:"record"`
	Status         Status        `json:"status"`
	Summary        jsonSummary   `json:"summary"`
	VerdictVersion int           `json:"verdict_version"`
	Warnings       []jsonWarning `json:"warnings"`
}

type jsonPhase struct {
	Checked  uint64        `json:"checked"`
	Failures []jsonFailure `json:"failures"`
	Omitted  uint64        `json:"failures_omitted,omitempty"`
	Name     string        `json:"name"`
	Phase    int           `json:"phase"`
	Status   Status        `json:"status"`
}

type jsonFailure struct {
	Code      string  `json:"code"`
	Message   string  `json:"message"`
	SegmentID *string `json:"segment_id"`
	Sequence  *uint64 `json:"sequence"`
}

type jsonSummary struct {
	Attachments uint64 `json:"attachments"`
	Elided      uint64 `json:"elided"`
	Envelopes   uint64 `json:"envelopes"`
	Segments    uint64 `json:"segments"`
}

type jsonWarning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// AppendJCS appends the verdict's canonical JSON object (SPEC §10), without
// newline. It holds no times or durations: the same input and
// configuration give the same bytes.
func (v *Verdict) AppendJCS(dst []byte) []byte {
	j := jsonVerdict{Record: "verdict", Status: v.Status(), VerdictVersion: VerdictVersion,
		Phases: make([]jsonPhase, NumPhases), Warnings: make([]jsonWarning, len(v.Warnings)),
		Summary: jsonSummary{Attachments: v.Summary.Attachments, Elided: v.Summary.Elided,
			Envelopes: v.Summary.Envelopes, Segments: v.Summary.Segments}}
	if !v.BundleID.IsZero() {
		id := v.BundleID.String()
		j.BundleID = &id
	}
	if !v.ManifestSHA256.IsZero() {
		h := v.ManifestSHA256.String()
		j.ManifestSHA256 = &h
	}
	for i, p := range v.Phases {
		jp := jsonPhase{Checked: p.Checked, Failures: make([]jsonFailure, len(p.Failures)), Omitted: p.Omitted,
			Name: p.Phase.String(), Phase: int(p.Phase), Status: p.Status}
		for k, f := range p.Failures {
			jf := jsonFailure{Code: string(f.Code), Message: f.Message}
			if !f.SegmentID.IsZero() {
				s := f.SegmentID.String()
				jf.SegmentID = &s
			}
			if f.Sequence > 0 {
				n := f.Sequence
				jf.Sequence = &n
			}
			jp.Failures[k] = jf
		}
		j.Phases[i] = jp
	}
	for i, w := range v.Warnings {
		j.Warnings[i] = jsonWarning(w)
	}
	b, err := canonical.Marshal(j)
	if err != nil {
		// Unreachable: a verdict holds strings and integers below 2^53
		// (the canonical reader refuses larger ones). Fail closed anyway.
		return append(dst, `{"record":"verdict","status":"invalid","verdict_version":1}`...)
	}
	return append(dst, b...)
}
