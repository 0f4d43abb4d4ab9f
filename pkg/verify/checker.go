package verify

import (
	"strconv"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
)

// batchSize is how many envelopes travel together to a worker: large
// enough that channel traffic is noise next to the hashing, small enough
// that a few batches in flight hold little memory.
const batchSize = 128

// checker recomputes content hashes (phase 3) and verifies signatures
// against the trust root (phase 6) on all cores, and reports the results
// in input order, so the verdict does not depend on scheduling. The walker
// hands it disclosed envelopes with add; results land in the verdict as
// batches complete, and close waits for the last.
//
// Work goes to workers through one channel; the same batches go, in input
// order, to a single collector that waits for each in turn. Both channels
// are bounded, so at most a few batches are in memory.
type checker struct {
	content bool
	root    *signing.TrustRoot
	v       *Verdict

	cur   *batch
	work  chan *batch
	order chan *batch
	done  chan struct{}

	untrusted map[scalar.KeyID]int // index into keys
	keys      []untrustedKey       // in order of first appearance, at most maxUntrustedKeys
	restSigs  uint64               // signatures by unknown keys beyond those
}

type untrustedKey struct {
	id        scalar.KeyID
	envelopes uint64
}

// queuePerWorker is how many batches may wait per worker: enough that a
// worker descheduled for a moment does not leave the others idle, few
// enough to hold a few MiB.
const queuePerWorker = 4

// maxUntrustedKeys bounds the distinct unknown keys reported one by one.
const maxUntrustedKeys = 100

type batch struct {
	items []item
	done  chan struct{}
}

type item struct {
	env     *evidence.Envelope
	bad     bool // content hash does not recompute
	outcome signing.Outcome
}

func newChecker(v *Verdict, content bool, root *signing.TrustRoot, workers int) *checker {
	c := &checker{content: content, root: root, v: v,
		work: make(chan *batch, queuePerWorker*workers), order: make(chan *batch, queuePerWorker*workers+2),
		done: make(chan struct{}), untrusted: map[scalar.KeyID]int{}}
	for range workers {
		go c.worker()
	}
	go c.collect()
	return c
}

func (c *checker) add(e *evidence.Envelope) {
	if c.cur == nil {
		c.cur = &batch{items: make([]item, 0, batchSize), done: make(chan struct{})}
	}
	c.cur.items = append(c.cur.items, item{env: e})
	if len(c.cur.items) == batchSize {
		c.flush()
	}
}

func (c *checker) flush() {
	if c.cur == nil {
		return
	}
	c.order <- c.cur
	c.work <- c.cur
	c.cur = nil
}

// close sends the last batch and waits until every result is in the
// verdict.
func (c *checker) close() {
	c.flush()
	close(c.work)
	close(c.order)
	<-c.done
}

func (c *checker) worker() {
	var h evidence.Hasher
	for b := range c.work {
		for i := range b.items {
			it := &b.items[i]
			if c.content {
				it.bad = h.Content(&it.env.Content) != it.env.ContentHash
			}
			if c.root != nil {
				it.outcome = c.root.Check(it.env.ContentHash, it.env.Signatures)
			}
		}
		close(b.done)
	}
}

func (c *checker) collect() {
	defer close(c.done)
	content, sigs := c.v.Phase(PhaseContent), c.v.Phase(PhaseSignatures)
	for b := range c.order {
		<-b.done
		for i := range b.items {
			it := &b.items[i]
			e := it.env
			if c.content {
				content.Checked++
				if it.bad {
					content.add(Failure{Code: errcode.ChainHashMismatch, SegmentID: e.SegmentID, Sequence: e.Sequence,
						Message: "content_hash of sequence " + seq(e.Sequence) + " does not match its content"})
				}
			}
			if c.root != nil {
				sigs.Checked++
				c.signatures(sigs, e, &it.outcome)
			}
			b.items[i] = item{} // let the envelope go
		}
	}
}

// signatures turns one envelope's outcome into failures and counts its
// untrusted signatures.
func (c *checker) signatures(r *PhaseResult, e *evidence.Envelope, o *signing.Outcome) {
	fail := func(code errcode.Code, msg string) {
		r.add(Failure{Code: code, SegmentID: e.SegmentID, Sequence: e.Sequence, Message: msg})
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
		c.keys[i].envelopes++
	}
	for _, k := range o.Invalid {
		fail(errcode.SignatureInvalid, "signature by trusted key "+k.String()+" on sequence "+seq(e.Sequence)+" does not verify")
	}
	if o.Satisfied || len(o.Invalid) > 0 {
		return
	}
	p := c.root.Policy
	switch {
	case len(e.Signatures) == 0:
		fail(errcode.SignaturePolicy, "sequence "+seq(e.Sequence)+" is not signed; policy "+p.String()+" needs a signature by a trusted key")
	case p.Kind == signing.AllMustSign:
		fail(errcode.SignaturePolicy, "sequence "+seq(e.Sequence)+" is signed by "+strconv.Itoa(len(o.Valid))+" of the "+
			strconv.Itoa(len(c.root.Keys))+" trusted keys; policy all_must_sign needs every one")
	case p.Kind == signing.Threshold:
		fail(errcode.SignaturePolicy, "sequence "+seq(e.Sequence)+" has valid signatures by "+strconv.Itoa(len(o.Valid))+
			" trusted keys; policy threshold "+strconv.Itoa(p.Threshold)+" needs "+strconv.Itoa(p.Threshold))
	default:
		fail(errcode.SignaturePolicy, "sequence "+seq(e.Sequence)+" has no valid signature by a trusted key; policy "+p.String()+" needs one")
	}
}

// warnings returns the untrusted_signature warnings, one per unknown key
// in order of first appearance; keys beyond the first 100 are summed up.
func (c *checker) warnings() []Warning {
	var ws []Warning
	for _, k := range c.keys {
		ws = append(ws, Warning{Code: WarnUntrustedSignature,
			Message: "key " + k.id.String() + " is not in the trust root; its signatures on " + plural(k.envelopes, "envelope") + " were ignored"})
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
