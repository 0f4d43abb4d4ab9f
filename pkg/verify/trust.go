package verify

import (
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
)

// trust decides which keys are trusted for a record and evaluates the
// record's signatures against them: the one place phase 6 asks, for
// envelopes (over their content hash) and for seals (over their
// checkpoint, SPEC §11.2) alike. Today every record is held to the trust
// root's keys; following key rotations (SPEC §11.1) changes only this
// type. check is called on the checker's goroutines for envelopes and in
// input order for seals.
type trust struct {
	root *signing.TrustRoot
}

// check evaluates sigs over msg, the signed bytes of the record at
// (segment, sequence) — sequence 0 for a seal — against the keys trusted
// for it.
func (t *trust) check(segment scalar.UUID, sequence uint64, msg []byte, sigs []evidence.Signature) signing.Outcome {
	return t.root.CheckMessage(msg, sigs)
}

// policy is the policy records are held to.
func (t *trust) policy() signing.Policy { return t.root.Policy }

// keys is the number of keys all_must_sign requires.
func (t *trust) keys() int { return len(t.root.Keys) }
