package verify

import (
	"strconv"
	"sync"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/stream"
)

// checker recomputes content hashes (phase 3) and verifies signatures
// against the trust root (phase 6). Its work runs on the goroutines that
// decode the input (stream.Parallel), on all cores; apply then reports
// each envelope's results as the walker reaches it, in input order, so the
// verdict does not depend on scheduling.
type checker struct {
	content bool
	trust   *trust // nil when phase 6 does not run
	v       *Verdict

	untrusted map[scalar.KeyID]int // index into keys
	keys      []untrustedKey       // in order of first appearance, at most maxUntrustedKeys
	restSigs  uint64               // signatures by unknown keys beyond those
}

type untrustedKey struct {
	id        scalar.KeyID
	envelopes uint64
	seals     uint64
}

// maxUntrustedKeys bounds the distinct unknown keys reported one by one.
const maxUntrustedKeys = 100

// checked is what work found for one envelope.
type checked struct {
	bad     bool // content hash does not recompute
	outcome signing.Outcome
	// With a lineage to follow (lineage.go): the signatures as verified
	// against the keys known to the worker, to be resolved in input
	// order, and a lifecycle envelope's decoding.
	resolve   bool
	sigs      []sigCheck
	lifecycle *decoded
}

func newChecker(v *Verdict, content bool, root *signing.TrustRoot) *checker {
	c := &checker{content: content, v: v, untrusted: map[scalar.KeyID]int{}}
	if root != nil {
		c.trust = newTrust(root)
	}
	return c
}

// hashers are the scratch memory of the content hashes, one per worker.
var hashers = sync.Pool{New: func() any { return new(evidence.Hasher) }}

// work checks one decoded envelope; it runs on any goroutine.
func (c *checker) work(it *stream.Item) {
	e, ok := it.Record.(*evidence.Envelope)
	if !ok {
		return
	}
	r := &checked{}
	if c.content {
		h := hashers.Get().(*evidence.Hasher)
		r.bad = h.Content(&e.Content) != e.ContentHash
		hashers.Put(h)
	}
	if c.trust != nil {
		c.trust.verify(e, r)
	}
	it.Aux = r
}

// apply reports what work found for e, in input order.
func (c *checker) apply(e *evidence.Envelope, r *checked) {
	if c.content {
		content := c.v.Phase(PhaseContent)
		content.Checked++
		if r.bad {
			content.add(Failure{Code: errcode.ChainHashMismatch, SegmentID: e.SegmentID, Sequence: e.Sequence,
				Message: "content_hash of sequence " + seq(e.Sequence) + " does not match its content"})
		}
	}
	if c.trust != nil {
		sigs := c.v.Phase(PhaseSignatures)
		sigs.Checked++
		o := c.trust.envelope(sigs, e, r)
		c.signatures(sigs, signed{segment: e.SegmentID, sequence: e.Sequence, what: "sequence " + seq(e.Sequence),
			unsigned: errcode.SignaturePolicy, sigs: len(e.Signatures)}, &o)
	}
}

// signed names a signed record for the failures of phase 6.
type signed struct {
	segment  scalar.UUID
	sequence uint64       // 0 for a seal
	what     string       // "sequence 3", "the seal of segment …"
	unsigned errcode.Code // the code of an unsigned record
	sigs     int          // the signatures it carries
}

// signatures turns one record's outcome into failures and counts its
// untrusted signatures.
func (c *checker) signatures(r *PhaseResult, rec signed, o *signing.Outcome) {
	fail := func(code errcode.Code, msg string) {
		r.add(Failure{Code: code, SegmentID: rec.segment, Sequence: rec.sequence, Message: msg})
	}
	for _, k := range o.Untrusted {
		i, ok := c.untrusted[k]
		if !ok {
			if len(c.keys) == maxUntrustedKeys {
				c.restSigs++
				continue
			}
			i = len(c.keys)
			c.keys = append(c.keys, untrustedKey{id: k})
			c.untrusted[k] = i
		}
		if rec.sequence == 0 {
			c.keys[i].seals++
		} else {
			c.keys[i].envelopes++
		}
	}
	for _, k := range o.Invalid {
		fail(errcode.SignatureInvalid, "signature by trusted key "+k.String()+" on "+rec.what+" does not verify")
	}
	if o.Satisfied || len(o.Invalid) > 0 {
		return
	}
	p := c.trust.policy()
	switch {
	case rec.sigs == 0:
		fail(rec.unsigned, rec.what+" is not signed; policy "+p.String()+" needs a signature by a trusted key")
	case p.Kind == signing.AllMustSign:
		fail(errcode.SignaturePolicy, rec.what+" is signed by "+strconv.Itoa(len(o.Valid))+" of the "+
			strconv.Itoa(c.trust.keys())+" trusted keys; policy all_must_sign needs every one")
	case p.Kind == signing.Threshold:
		fail(errcode.SignaturePolicy, rec.what+" has valid signatures by "+strconv.Itoa(len(o.Valid))+
			" trusted keys; policy threshold "+strconv.Itoa(p.Threshold)+" needs "+strconv.Itoa(p.Threshold))
	default:
		fail(errcode.SignaturePolicy, rec.what+" has no valid signature by a trusted key; policy "+p.String()+" needs one")
	}
}

// warnings returns the untrusted_signature warnings, one per unknown key
// in order of first appearance; keys beyond the first 100 are summed up.
func (c *checker) warnings() []Warning {
	var ws []Warning
	if c.trust != nil {
		ws = append(ws, c.trust.lineage.warnings...)
	}
	for _, k := range c.keys {
		var on string
		switch {
		case k.seals == 0:
			on = plural(k.envelopes, "envelope")
		case k.envelopes == 0:
			on = plural(k.seals, "seal")
		default:
			on = plural(k.envelopes, "envelope") + " and " + plural(k.seals, "seal")
		}
		ws = append(ws, Warning{Code: WarnUntrustedSignature,
			Message: "key " + k.id.String() + " is not in the trust root; its signatures on " + on + " were ignored"})
	}
	if c.restSigs > 0 {
		ws = append(ws, Warning{Code: WarnUntrustedSignature,
			Message: plural(c.restSigs, "more signature") + " by keys not in the trust root (beyond the first " +
				strconv.Itoa(maxUntrustedKeys) + " such keys) were ignored"})
	}
	return ws
}

func seq(n uint64) string { return strconv.FormatUint(n, 10) }

func plural(n uint64, noun string) string {
	s := strconv.FormatUint(n, 10) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}
