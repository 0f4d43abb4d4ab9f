package sealing

import (
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
)

// LifecycleConfig configures Lifecycle.
type LifecycleConfig struct {
	RecorderID scalar.Label // required
	// Start is the store's chain state: its open segment, continued, or
	// its last sealed head, which the segment Lifecycle opens links to.
	Start Start
	// Lifecycle is the envelope's payload and kind.
	Lifecycle *signing.Lifecycle
	// ClaimedAt dates the lifecycle envelope and its seal.
	ClaimedAt scalar.Timestamp
	// Keys are the private keys of Lifecycle.Signers(): the new key, and
	// for a normal rotation the old key.
	Keys []*signing.Key
}

// Lifecycle returns the sealed-stream continuation of a key lifecycle
// event (SPEC §11.1): the lifecycle envelope, signed by the keys its kind
// requires, then a seal with reason key_rotation dated at its claimed_at,
// so that every segment is signed by one key. The records continue
// cfg.Start: the open segment's genesis announced again, or a new segment
// linked to the last sealed one.
func Lifecycle(cfg LifecycleConfig) ([]evidence.Record, error) {
	l := cfg.Lifecycle
	if l == nil {
		return nil, errcode.New(errcode.Internal, "no lifecycle payload")
	}
	need := l.Signers()
	if len(cfg.Keys) != len(need) {
		return nil, errcode.New(errcode.Internal, "a %s envelope is signed by %d keys, not %d", l.Kind.EventType(), len(need), len(cfg.Keys))
	}
	signers := make([]Signer, len(cfg.Keys))
	for i, k := range cfg.Keys {
		if k.KeyID() != need[0].KeyID && (len(need) < 2 || k.KeyID() != need[1].KeyID) {
			return nil, errcode.New(errcode.Internal, "key %s is not a signer of the %s envelope", k.KeyID(), l.Kind.EventType())
		}
		signers[i] = k
	}
	s, err := New(Config{RecorderID: cfg.RecorderID, Signers: signers, Start: cfg.Start, LifecycleEvents: true})
	if err != nil {
		return nil, err
	}
	out, err := s.Append(nil, &evidence.Unsealed{Content: l.Content(cfg.RecorderID, cfg.ClaimedAt)})
	if err != nil {
		return nil, err
	}
	out, err = s.SealNow(out, evidence.SealKeyRotation, cfg.ClaimedAt)
	if err != nil {
		return nil, err
	}
	// The key_rotation seal is signed by the key of the segment it closes
	// (SPEC §11.2) once seals carry signatures: SealKey below.
	return out, nil
}

// SealKey is the key that signs a lifecycle event's key_rotation seal:
// the key of the segment it closes, which is the old key of a normal
// rotation; an enrolment's segment and a break-glass rotation's (whose
// old key is lost) are signed by the new key, the only key at hand.
func SealKey(l *signing.Lifecycle, keys []*signing.Key) *signing.Key {
	want := l.New.KeyID
	if l.Kind == signing.Rotated {
		want = l.Old.KeyID
	}
	for _, k := range keys {
		if k.KeyID() == want {
			return k
		}
	}
	return nil
}
