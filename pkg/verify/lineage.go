package verify

import (
	"crypto/ed25519"
	"slices"
	"strconv"
	"sync"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
)

// lineage follows a store's signing lineage through the disclosed key
// lifecycle envelopes of the input, in input order (SPEC §11.1), and
// decides which keys are trusted for each record of phase 6.
//
// Every lifecycle envelope is checked: its payload decodes, its actor is
// its segment's recorder, its epoch and old key follow the previous
// lifecycle envelope of the chain, or start at epoch 1 in a chain read
// from its first segment (unless segments between them are not included,
// which leaves nothing to follow), and the signatures its kind
// requires verify; otherwise phase 6 fails key.rotation_invalid. A
// break-glass envelope always gives the warning break_glass_rotation.
//
// With "follow_rotations" the trusted keys change at each valid lifecycle
// envelope: a rotation signed by a trusted old key replaces the old key by
// the new one; a rotation from a key not trusted at that point introduces
// nothing (key.rotation_untrusted); a break-glass rotation stops trusting
// the old key, and its new key is trusted only when the root lists it
// (key.rotation_untrusted otherwise). The lifecycle envelope itself, and
// the key_rotation seal that closes its segment, are held to the policy
// over the keys trusted before it plus the key it introduces. all_must_sign
// then asks for every key trusted at that point, and threshold k for k of
// them.
//
// Signatures are verified on the decoding goroutines (verify) against
// every key the input may make trusted — the root's and each key a
// lifecycle payload names, as soon as a worker has decoded it — and
// resolved in input order (outcome) against the keys trusted at that
// point; a signature whose key was not known yet to its worker is
// verified then.
type lineage struct {
	root   *signing.TrustRoot
	follow bool

	known sync.Map // scalar.KeyID → ed25519.PublicKey: root keys, then keys from lifecycle payloads

	// In input order (outcome, segment, lifecycle):
	trusted  []signing.TrustedKey // sorted by key id
	cur      signing.KeyEpoch     // the chain's last lifecycle state; Epoch 0 when none is known
	recorder scalar.Label         // the current segment's recorder
	curSeg   scalar.UUID          // the segment being read
	anchored bool                 // the segments read so far run unbroken from the chain's first
	rotation []signing.TrustedKey // the keys the current segment's lifecycle envelope and seal are held to; nil when none
	warnings []Warning
}

func newLineage(root *signing.TrustRoot) *lineage {
	l := &lineage{root: root, follow: root.Policy.FollowRotations, trusted: slices.Clone(root.Keys)}
	for _, k := range root.Keys {
		l.known.Store(k.KeyID, k.PublicKey)
	}
	return l
}

// sigCheck is a signature verified on a worker against a known key.
type sigCheck struct {
	id    scalar.KeyID
	value [64]byte
	state uint8 // sigUnknown, sigValid, sigInvalid
}

const (
	sigUnknown uint8 = iota // the key was not known to the worker
	sigValid
	sigInvalid
)

// decoded is what a worker found for a lifecycle envelope.
type decoded struct {
	l   *signing.Lifecycle
	err error
}

// verify checks e's signatures against the keys known so far, and decodes
// a lifecycle envelope, making its keys known; it runs on any goroutine.
func (l *lineage) verify(e *evidence.Envelope, r *checked) {
	if lc, ok, err := signing.ParseLifecycle(&e.Content); ok {
		r.lifecycle = &decoded{l: lc, err: err}
		if err == nil {
			l.known.Store(lc.New.KeyID, lc.New.PublicKey)
			if lc.Old != nil {
				l.known.Store(lc.Old.KeyID, lc.Old.PublicKey)
			}
		}
	}
	if !l.follow && r.lifecycle == nil {
		r.outcome = l.root.CheckMessage(e.ContentHash[:], e.Signatures) // the trusted keys never change
		return
	}
	r.sigs = make([]sigCheck, len(e.Signatures))
	for i, s := range e.Signatures {
		r.sigs[i] = sigCheck{id: s.KeyID, value: s.Value}
		if pub, ok := l.known.Load(s.KeyID); ok {
			r.sigs[i].state = sigInvalid
			if signing.VerifyMessage(pub.(ed25519.PublicKey), e.ContentHash[:], s.Value) {
				r.sigs[i].state = sigValid
			}
		}
	}
	r.resolve = true
}

// segment starts a segment of the input: its lifecycle envelopes continue
// the previous one's only when it links to it.
func (l *lineage) segment(g *evidence.Genesis) {
	switch {
	case g.Predecessor == nil: // the chain's first segment: its first lifecycle envelope is at epoch 1
		l.cur, l.anchored = signing.KeyEpoch{}, true
	case l.curSeg.IsZero() || g.Predecessor.SegmentID != l.curSeg: // a gap: nothing to follow
		l.cur, l.anchored = signing.KeyEpoch{}, false
	}
	l.curSeg = g.SegmentID
	l.recorder = g.RecorderID
	l.rotation = nil
}

// outcome resolves a record's signatures over msg against keys, which
// are trusted for it.
func (l *lineage) outcome(msg []byte, sigs []sigCheck, keys []signing.TrustedKey) signing.Outcome {
	var o signing.Outcome
	for _, s := range sigs {
		i, ok := slices.BinarySearchFunc(keys, s.id, func(k signing.TrustedKey, id scalar.KeyID) int { return k.KeyID.Compare(id) })
		if !ok {
			o.Untrusted = append(o.Untrusted, s.id)
			continue
		}
		valid := s.state == sigValid
		if s.state == sigUnknown {
			valid = signing.VerifyMessage(keys[i].PublicKey, msg, s.value)
		}
		if valid {
			o.Valid = append(o.Valid, s.id)
		} else {
			o.Invalid = append(o.Invalid, s.id)
		}
	}
	o.Satisfied = len(o.Invalid) == 0 && l.satisfied(len(o.Valid), len(keys))
	return o
}

// satisfied applies the policy to n valid signatures by keys trusted
// among total.
func (l *lineage) satisfied(n, total int) bool {
	switch l.root.Policy.Kind {
	case signing.AnyTrustedKey:
		return n >= 1
	case signing.AllMustSign:
		return n == total
	case signing.Threshold:
		return n >= l.root.Policy.Threshold
	}
	return false
}

// envelope returns the outcome of envelope e, whose worker found r, in
// input order; a lifecycle envelope also moves the lineage on, and its
// failures go to p.
func (l *lineage) envelope(p *PhaseResult, e *evidence.Envelope, r *checked) signing.Outcome {
	if r.lifecycle == nil {
		if !r.resolve {
			return r.outcome
		}
		return l.outcome(e.ContentHash[:], r.sigs, l.trusted)
	}
	fail := func(code errcode.Code, msg string) {
		p.add(Failure{Code: code, SegmentID: e.SegmentID, Sequence: e.Sequence, Message: msg})
	}
	lc, err := r.lifecycle.l, r.lifecycle.err
	if err == nil && e.ActorID != l.recorder {
		err = &errcode.Error{Code: errcode.KeyRotationInvalid, Field: "actor_id", Msg: "is not the segment's recorder " + strconv.Quote(l.recorder.String())}
	}
	if err == nil && (l.cur.Epoch > 0 || l.anchored) {
		err = lc.Follows(l.cur)
	}
	if err == nil {
		err = lc.CheckSignatures(e.ContentHash, e.Signatures)
	}
	if err != nil {
		fail(errcode.KeyRotationInvalid, "lifecycle envelope at sequence "+seq(e.Sequence)+": "+errDetail(err))
		l.cur, l.anchored = signing.KeyEpoch{}, false // the lineage is broken here: nothing after it follows
		return l.outcome(e.ContentHash[:], r.sigs, l.trusted)
	}
	l.cur = lc.Next()
	if lc.Kind == signing.BreakGlass {
		l.warnings = append(l.warnings, Warning{Code: WarnBreakGlassRotation,
			Message: "segment " + e.SegmentID.String() + " sequence " + seq(e.Sequence) + ": break-glass rotation to key " + lc.New.KeyID.String() +
				" at epoch " + strconv.FormatInt(lc.Epoch, 10) + ", replacing key " + lc.Old.KeyID.String() + " without its signature"})
	}
	// The envelope (and its seal) is held to the keys trusted before it,
	// and, when it is a rotation signed by a trusted old key, the key that
	// key hands over to.
	judged := l.trusted
	if l.follow {
		inRoot := l.rootHas(lc.New.KeyID)
		switch {
		case lc.Kind == signing.Enrolled:
			// The first key is trusted only if the root lists it: it is
			// among the trusted keys already, or it is not.
		case lc.Kind == signing.BreakGlass:
			l.trusted = l.without(l.trusted, lc.Old.KeyID)
			if !inRoot {
				fail(errcode.KeyRotationUntrusted, "break-glass rotation at sequence "+seq(e.Sequence)+" introduces key "+lc.New.KeyID.String()+
					", which the trust root does not list; a break-glass key is trusted only when the root lists it")
			}
		case !l.has(l.trusted, lc.Old.KeyID):
			fail(errcode.KeyRotationUntrusted, "rotation at sequence "+seq(e.Sequence)+" hands over from key "+lc.Old.KeyID.String()+
				", which is not trusted at that point: key "+lc.New.KeyID.String()+" is not trusted after it")
		default:
			judged = l.with(l.trusted, lc.New)
			l.trusted = l.with(l.without(l.trusted, lc.Old.KeyID), lc.New)
		}
	}
	l.rotation = judged
	return l.outcome(e.ContentHash[:], r.sigs, judged)
}

// sealKeys returns the keys a seal of the current segment is held to:
// those its lifecycle envelope was held to, when it has one (its
// key_rotation seal is signed by the keys of the envelope, docs/keys.md).
func (l *lineage) sealKeys() []signing.TrustedKey {
	if l.rotation != nil {
		return l.rotation
	}
	return l.trusted
}

// checksOf is sigs, none verified yet.
func checksOf(sigs []evidence.Signature) []sigCheck {
	out := make([]sigCheck, len(sigs))
	for i, s := range sigs {
		out[i] = sigCheck{id: s.KeyID, value: s.Value}
	}
	return out
}

func (l *lineage) rootHas(id scalar.KeyID) bool { return l.has(l.root.Keys, id) }

func (l *lineage) has(keys []signing.TrustedKey, id scalar.KeyID) bool {
	_, ok := slices.BinarySearchFunc(keys, id, func(k signing.TrustedKey, id scalar.KeyID) int { return k.KeyID.Compare(id) })
	return ok
}

// with returns keys and k, sorted, as a new slice.
func (l *lineage) with(keys []signing.TrustedKey, k signing.TrustedKey) []signing.TrustedKey {
	if l.has(keys, k.KeyID) {
		return keys
	}
	out := append(slices.Clone(keys), k)
	slices.SortFunc(out, func(a, b signing.TrustedKey) int { return a.KeyID.Compare(b.KeyID) })
	return out
}

// without returns keys without id, as a new slice.
func (l *lineage) without(keys []signing.TrustedKey, id scalar.KeyID) []signing.TrustedKey {
	return slices.DeleteFunc(slices.Clone(keys), func(k signing.TrustedKey) bool { return k.KeyID == id })
}

// errDetail is an errcode error's field and message, without its code.
func errDetail(err error) string {
	e, ok := errcode.As(err)
	if !ok {
		return err.Error()
	}
	if e.Field != "" {
		return e.Field + ": " + e.Msg
	}
	return e.Msg
}
