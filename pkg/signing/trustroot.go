package signing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"slices"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/tidwall/gjson"
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

// Check evaluates sigs over content against the root. Each trusted key's
// signature is verified with Verify; an invalid signature by a trusted key
// makes the outcome unsatisfied whatever the policy.
func (tr *TrustRoot) Check(content scalar.Digest, sigs []evidence.Signature) Outcome {
	var o Outcome
	for _, s := range sigs {
		k, ok := tr.key(s.KeyID)
		switch {
		case !ok:
			o.Untrusted = append(o.Untrusted, s.KeyID)
		case Verify(k.PublicKey, content, s.Value):
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

func (tr *TrustRoot) key(id scalar.KeyID) (TrustedKey, bool) {
	i, ok := slices.BinarySearchFunc(tr.Keys, id, func(k TrustedKey, id scalar.KeyID) int { return bytes.Compare(k.KeyID[:], id[:]) })
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
	data, err := ReadLimited(path, MaxTrustRoot, errcode.ConfigInvalid, "trust root")
	if err != nil {
		return nil, err
	}
	tr, err := ParseTrustRoot(data)
	if e, ok := errcode.As(err); ok && e.Path == "" {
		e.Path = path
	}
	return tr, err
}

// ParseTrustRoot parses a trust root strictly: unknown keys, a key id that
// is not the SHA-256 of its public key, a repeated key, an empty key list
// and a threshold outside 1..len(keys) are config.invalid.
func ParseTrustRoot(data []byte) (*TrustRoot, error) {
	canon, err := canonical.Transform(data)
	if err != nil {
		return nil, errcode.Wrap(errcode.ConfigInvalid, err, "trust root is not strict JSON")
	}
	bad := func(field, msg string) error {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: field, Msg: msg}
	}
	root := gjson.ParseBytes(canon)
	if !root.IsObject() {
		return nil, bad("", "trust root must be a JSON object")
	}
	if err := onlyKeys(root, "", "keys", "policy", "trust_root_version"); err != nil {
		return nil, err
	}
	if v := root.Get("trust_root_version"); v.Raw != "1" {
		return nil, bad("trust_root_version", "must be 1")
	}
	tr := &TrustRoot{}
	keys := root.Get("keys")
	if !keys.IsArray() {
		return nil, bad("keys", "must be an array")
	}
	var ferr error
	keys.ForEach(func(_, v gjson.Result) bool {
		at := "keys[" + strconv.Itoa(len(tr.Keys)) + "]"
		k, err := parseTrustedKey(v, at)
		if err != nil {
			ferr = err
			return false
		}
		tr.Keys = append(tr.Keys, k)
		return true
	})
	if ferr != nil {
		return nil, ferr
	}
	if len(tr.Keys) == 0 {
		return nil, bad("keys", "must list at least one key")
	}
	slices.SortFunc(tr.Keys, func(a, b TrustedKey) int { return bytes.Compare(a.KeyID[:], b.KeyID[:]) })
	for i := 1; i < len(tr.Keys); i++ {
		if tr.Keys[i].KeyID == tr.Keys[i-1].KeyID {
			return nil, bad("keys", "key "+tr.Keys[i].KeyID.String()+" is listed twice")
		}
	}
	pol := root.Get("policy")
	if !pol.IsObject() {
		return nil, bad("policy", "must be an object")
	}
	switch kind := PolicyKind(pol.Get("kind").Str); kind {
	case AnyTrustedKey, AllMustSign:
		if err := onlyKeys(pol, "policy", "kind"); err != nil {
			return nil, err
		}
		tr.Policy = Policy{Kind: kind}
	case Threshold:
		if err := onlyKeys(pol, "policy", "kind", "threshold"); err != nil {
			return nil, err
		}
		t := pol.Get("threshold")
		n, err := strconv.Atoi(t.Raw)
		if t.Type != gjson.Number || err != nil || n < 1 || n > len(tr.Keys) {
			return nil, bad("policy.threshold", "must be an integer from 1 to the number of keys ("+strconv.Itoa(len(tr.Keys))+")")
		}
		tr.Policy = Policy{Kind: Threshold, Threshold: n}
	default:
		return nil, bad("policy.kind", "must be any_trusted_key, all_must_sign or threshold")
	}
	return tr, nil
}

func parseTrustedKey(v gjson.Result, at string) (TrustedKey, error) {
	var k TrustedKey
	bad := func(field, msg string) error {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: at + field, Msg: msg}
	}
	if !v.IsObject() {
		return k, bad("", "must be an object")
	}
	if err := onlyKeys(v, at, "algorithm", "key_id", "public_key"); err != nil {
		return k, err
	}
	if v.Get("algorithm").Str != evidence.SignatureAlgorithm {
		return k, bad(".algorithm", "must be \"ed25519\"")
	}
	id, err := scalar.ParseKeyID(v.Get("key_id").Str)
	if err != nil {
		return k, bad(".key_id", "must be 64 lowercase hex digits")
	}
	pub, err := base64.StdEncoding.Strict().DecodeString(v.Get("public_key").Str)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return k, bad(".public_key", "must be a base64 32-byte Ed25519 public key")
	}
	if scalar.KeyIDOf(pub) != id {
		return k, bad(".key_id", "does not match its public key (want "+scalar.KeyIDOf(pub).String()+")")
	}
	return TrustedKey{KeyID: id, PublicKey: ed25519.PublicKey(pub)}, nil
}

// onlyKeys fails on the first key of obj not in allowed, and on a missing
// one.
func onlyKeys(obj gjson.Result, at string, allowed ...string) error {
	prefix := at
	if prefix != "" {
		prefix += "."
	}
	var err error
	obj.ForEach(func(k, _ gjson.Result) bool {
		if !slices.Contains(allowed, k.Str) {
			err = &errcode.Error{Code: errcode.ConfigInvalid, Field: prefix + k.Str, Msg: "unknown field"}
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, a := range allowed {
		if !obj.Get(gjson.Escape(a)).Exists() {
			return &errcode.Error{Code: errcode.ConfigInvalid, Field: prefix + a, Msg: "required field is missing"}
		}
	}
	return nil
}
