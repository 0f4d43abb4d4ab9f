package verify

import (
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/signing"
)

// trust decides which keys are trusted for a record and evaluates the
// record's signatures against them: the one place phase 6 asks, for
// envelopes (over their content hash) and for seals (over their
// checkpoint, SPEC §11.2) alike. The keys trusted for a record are the
// trust root's, as the signing lineage of the input changes them when the
// root follows rotations (SPEC §11.1, lineage.go). verify runs on the
// checker's goroutines for envelopes; envelope and seal run in input
// order.
type trust struct {
	root    *signing.TrustRoot
	lineage *lineage
}

func newTrust(root *signing.TrustRoot) *trust {
	return &trust{root: root, lineage: newLineage(root)}
}

// verify checks envelope e's signatures on a decoding goroutine, into r.
func (t *trust) verify(e *evidence.Envelope, r *checked) { t.lineage.verify(e, r) }

// envelope returns envelope e's outcome against the keys trusted for it,
// in input order; a lifecycle envelope's own failures go to p.
func (t *trust) envelope(p *PhaseResult, e *evidence.Envelope, r *checked) signing.Outcome {
	return t.lineage.envelope(p, e, r)
}

// seal returns the outcome of a seal's signatures over its checkpoint msg,
// in input order: against the keys trusted at that point, or, for the
// key_rotation seal of a segment holding a lifecycle envelope, those the
// envelope was held to.
func (t *trust) seal(msg []byte, sigs []evidence.Signature) signing.Outcome {
	return t.lineage.outcome(msg, checksOf(sigs), t.lineage.sealKeys())
}

// policy is the policy records are held to.
func (t *trust) policy() signing.Policy { return t.root.Policy }

// keys is the number of keys all_must_sign requires at this point.
func (t *trust) keys() int { return len(t.lineage.trusted) }
