package signing

import (
	"crypto/ed25519"
	"encoding/base64"
	"slices"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/jsonobj"
	"arxi.dev/arxi/pkg/safefile"
	"arxi.dev/arxi/pkg/scalar"
)

// MaxTrustRoot is the size limit of a trust-root file (SPEC §16).
const MaxTrustRoot = 1 << 20

// PolicyKind names a trust policy.
type PolicyKind string

// The policies of SPEC §11.
const (
	AnyTrustedKey PolicyKind = "any_trusted_key"
	AllMustSign   PolicyKind = "all_must_sign"
	Threshold     PolicyKind = "threshold"
)

// Policy is what every disclosed envelope's signatures must satisfy.
type Policy struct {
	Kind      PolicyKind
	Threshold int // for Threshold: distinct trusted keys required
	// FollowRotations is the policy's "follow_rotations" (SPEC §11.1):
	// keys introduced by valid lifecycle envelopes become trusted.
	FollowRotations bool
}

// TrustRoot is a set of trusted keys and a policy.
type TrustRoot struct {
	Keys   []TrustedKey // sorted by key id
	Policy Policy
}

// Outcome is the evaluation of one envelope's signatures.
type Outcome struct {
	Valid     []scalar.KeyID // trusted keys with a valid signature
	Invalid   []scalar.KeyID // trusted keys whose signature does not verify
	Untrusted []scalar.KeyID // signatures by keys not in the root, ignored
	Satisfied bool           // the policy holds (and no trusted signature is invalid)
}

// Check evaluates an envelope's sigs over its content hash against the
// root: CheckMessage(content[:], sigs).
func (tr *TrustRoot) Check(content scalar.Digest, sigs []evidence.Signature) Outcome {
	return tr.CheckMessage(content[:], sigs)
}

// CheckMessage evaluates sigs over msg (a content hash, or a seal's
// checkpoint) against the root. Each trusted key's signature is verified
// with VerifyMessage; an invalid signature by a trusted key makes the
// outcome unsatisfied whatever the policy.
func (tr *TrustRoot) CheckMessage(msg []byte, sigs []evidence.Signature) Outcome {
	var o Outcome
	for _, s := range sigs {
		k, ok := tr.Key(s.KeyID)
		switch {
		case !ok:
			o.Untrusted = append(o.Untrusted, s.KeyID)
		case VerifyMessage(k.PublicKey, msg, s.Value):
			o.Valid = append(o.Valid, s.KeyID)
		default:
			o.Invalid = append(o.Invalid, s.KeyID)
		}
	}
	if len(o.Invalid) == 0 {
		switch tr.Policy.Kind {
		case AnyTrustedKey:
			o.Satisfied = len(o.Valid) >= 1
		case AllMustSign:
			o.Satisfied = len(o.Valid) == len(tr.Keys)
		case Threshold:
			o.Satisfied = len(o.Valid) >= tr.Policy.Threshold
		}
	}
	return o
}

// Key returns the root's key id, if it trusts it.
func (tr *TrustRoot) Key(id scalar.KeyID) (TrustedKey, bool) {
	i, ok := slices.BinarySearchFunc(tr.Keys, id, func(k TrustedKey, id scalar.KeyID) int { return k.KeyID.Compare(id) })
	if !ok {
		return TrustedKey{}, false
	}
	return tr.Keys[i], true
}

// String describes the policy, for messages.
func (p Policy) String() string {
	if p.Kind == Threshold {
		return "threshold " + strconv.Itoa(p.Threshold)
	}
	return string(p.Kind)
}

// LoadTrustRoot reads and parses a trust-root file (at most 1 MiB).
func LoadTrustRoot(path string) (*TrustRoot, error) {
	data, err := safefile.Input{What: "trust root", Code: errcode.ConfigInvalid, Max: MaxTrustRoot}.Read(path)
	if err != nil {
		return nil, err
	}
	tr, err := ParseTrustRoot(data)
	if err != nil {
		return nil, errcode.WithPath(err, path)
	}
	return tr, nil
}

// The keys of a trust root and its entries, from their schemas
// (schema.go).
var (
	trustRootKeys  = TrustRootSchema.Keys()
	trustedKeyKeys = TrustedKeySchema.Keys()
	policyKeys     = policySchema.Keys()
)

// trustRootFields is the style of trust-root errors: config.invalid
// naming the field.
var trustRootFields = &jsonobj.Style{Code: errcode.ConfigInvalid}

// ParseTrustRoot parses a trust root strictly: unknown keys, a key id that
// is not the SHA-256 of its public key, a repeated key, an empty key list
// and a threshold outside 1..len(keys) are config.invalid.
func ParseTrustRoot(data []byte) (*TrustRoot, error) {
	canon, err := canonical.Transform(data)
	if err != nil {
		return nil, errcode.Wrap(errcode.ConfigInvalid, err, "trust root is not strict JSON")
	}
	v := jsonobj.Value{Raw: string(canon)}
	if v.Type() != jsonobj.ObjectType {
		return nil, &errcode.Error{Code: errcode.ConfigInvalid, Msg: "trust root must be a JSON object"}
	}
	root, err := trustRootFields.Object(v)
	if err != nil {
		return nil, err
	}
	if err := exactly(&root, trustRootKeys...); err != nil {
		return nil, err
	}
	if root.Get("trust_root_version").Raw != "1" {
		return nil, root.Errorf("trust_root_version", "must be 1")
	}
	tr := &TrustRoot{}
	keys, err := root.Array("keys")
	if err != nil {
		return nil, err
	}
	err = keys.Each(func(i int, v jsonobj.Value) error {
		o, err := keys.Object(i, v)
		if err != nil {
			return err
		}
		k, err := parseTrustedKey(&o)
		if err != nil {
			return err
		}
		tr.Keys = append(tr.Keys, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(tr.Keys) == 0 {
		return nil, root.Errorf("keys", "must list at least one key")
	}
	slices.SortFunc(tr.Keys, func(a, b TrustedKey) int { return a.KeyID.Compare(b.KeyID) })
	for i := 1; i < len(tr.Keys); i++ {
		if tr.Keys[i].KeyID == tr.Keys[i-1].KeyID {
			return nil, root.Errorf("keys", "key %s is listed twice", tr.Keys[i].KeyID)
		}
	}
	pol, err := root.Object("policy")
	if err != nil {
		return nil, err
	}
	if err := pol.Only(policyKeys...); err != nil {
		return nil, err
	}
	if err := pol.Require("kind"); err != nil {
		return nil, err
	}
	p := Policy{Kind: PolicyKind(pol.Get("kind").Str())}
	if pol.Has("follow_rotations") {
		if p.FollowRotations, err = pol.Bool("follow_rotations"); err != nil {
			return nil, err
		}
	}
	switch p.Kind {
	case AnyTrustedKey, AllMustSign:
		if pol.Has("threshold") {
			return nil, pol.Errorf("threshold", "only the threshold policy takes a threshold")
		}
	case Threshold:
		if err := pol.Require("threshold"); err != nil {
			return nil, err
		}
		t := pol.Get("threshold")
		n, err := strconv.Atoi(t.Raw)
		if t.Type() != jsonobj.Number || err != nil || n < 1 || n > len(tr.Keys) {
			return nil, pol.Errorf("threshold", "must be an integer from 1 to the number of keys (%d)", len(tr.Keys))
		}
		p.Threshold = n
	default:
		return nil, pol.Errorf("kind", "must be any_trusted_key, all_must_sign or threshold")
	}
	tr.Policy = p
	return tr, nil
}

// check validates a policy for a root of n keys, as ParseTrustRoot does.
func (p Policy) check(n int) error {
	bad := func(field, msg string) error {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: "policy." + field, Msg: msg}
	}
	switch p.Kind {
	case AnyTrustedKey, AllMustSign:
		if p.Threshold != 0 {
			return bad("threshold", "only the threshold policy takes a threshold")
		}
	case Threshold:
		if p.Threshold < 1 || p.Threshold > n {
			return bad("threshold", "must be an integer from 1 to the number of keys ("+strconv.Itoa(n)+")")
		}
	default:
		return bad("kind", "must be any_trusted_key, all_must_sign or threshold")
	}
	return nil
}

// NewTrustRoot returns the trust root of keys under policy, with the
// rules ParseTrustRoot applies: at least one key, none twice, each key id
// the SHA-256 of its key, a threshold from 1 to the number of keys.
func NewTrustRoot(keys []TrustedKey, policy Policy) (*TrustRoot, error) {
	tr := &TrustRoot{Keys: slices.Clone(keys), Policy: policy}
	if len(tr.Keys) == 0 {
		return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: "keys", Msg: "must list at least one key"}
	}
	slices.SortFunc(tr.Keys, func(a, b TrustedKey) int { return a.KeyID.Compare(b.KeyID) })
	for i, k := range tr.Keys {
		if len(k.PublicKey) != ed25519.PublicKeySize || scalar.KeyIDOf(k.PublicKey) != k.KeyID {
			return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: "keys", Msg: "key " + k.KeyID.String() + " does not match its public key"}
		}
		if i > 0 && k.KeyID == tr.Keys[i-1].KeyID {
			return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: "keys", Msg: "key " + k.KeyID.String() + " is listed twice"}
		}
	}
	if err := policy.check(len(tr.Keys)); err != nil {
		return nil, err
	}
	return tr, nil
}

// AppendJCS appends the trust root's canonical JSON (SPEC §11), which
// ParseTrustRoot reads back as the same root.
func (tr *TrustRoot) AppendJCS(dst []byte) []byte {
	dst = append(dst, `{"keys":[`...)
	for i, k := range tr.Keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = k.AppendJCS(dst)
	}
	dst = append(dst, `],"policy":{`...)
	if tr.Policy.FollowRotations {
		dst = append(dst, `"follow_rotations":true,`...)
	}
	dst = append(dst, `"kind":"`...)
	dst = append(dst, tr.Policy.Kind...)
	dst = append(dst, '"')
	if tr.Policy.Kind == Threshold {
		dst = append(dst, `,"threshold":`...)
		dst = strconv.AppendInt(dst, int64(tr.Policy.Threshold), 10)
	}
	return append(dst, `},"trust_root_version":1}`...)
}

// ParseKeyEntry parses one trust-root key entry
// {"algorithm","key_id","public_key"}, the line keygen and pubkey print.
func ParseKeyEntry(data []byte) (TrustedKey, error) {
	canon, err := canonical.Transform(data)
	if err != nil {
		return TrustedKey{}, errcode.Wrap(errcode.ConfigInvalid, err, "key entry is not strict JSON")
	}
	o, err := trustRootFields.Object(jsonobj.Value{Raw: string(canon)})
	if err != nil {
		return TrustedKey{}, err
	}
	return parseTrustedKey(&o)
}

// exactly fails on the first key of o not in keys, and on a missing one.
func exactly(o *jsonobj.Object, keys ...string) error {
	if err := o.Only(keys...); err != nil {
		return err
	}
	return o.Require(keys...)
}

func parseTrustedKey(o *jsonobj.Object) (TrustedKey, error) {
	var k TrustedKey
	if err := exactly(o, trustedKeyKeys...); err != nil {
		return k, err
	}
	if o.Get("algorithm").Str() != evidence.SignatureAlgorithm {
		return k, o.Errorf("algorithm", `must be "ed25519"`)
	}
	id, err := scalar.ParseKeyID(o.Get("key_id").Str())
	if err != nil {
		return k, o.Errorf("key_id", "must be 64 lowercase hex digits")
	}
	pub, err := base64.StdEncoding.Strict().DecodeString(o.Get("public_key").Str())
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return k, o.Errorf("public_key", "must be a base64 32-byte Ed25519 public key")
	}
	if scalar.KeyIDOf(pub) != id {
		return k, o.Errorf("key_id", "does not match its public key (want %s)", scalar.KeyIDOf(pub))
	}
	return TrustedKey{KeyID: id, PublicKey: ed25519.PublicKey(pub)}, nil
}
