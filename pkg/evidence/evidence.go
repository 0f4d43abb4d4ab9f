// Package evidence is Arxi's evidence model (SPEC §4–5): the records of a
// sealed stream, the views their hashes cover, the hash chain, the Merkle
// root of a seal and the derived identifiers.
//
// # Records
//
// A stream is NDJSON, one record per line, each tagged by its "record" key:
//
//	unsealed    an event to be sealed (input of arxi-seal)
//	attachment  a content-addressed blob
//	genesis     opens a segment
//	envelope    a sealed event: content, position, hashes, signatures
//	elided      an envelope a bundle does not disclose
//	seal        closes a segment
//
// Every record writes itself with AppendJCS as its RFC 8785 canonical line
// (without the trailing newline), built directly in key order rather than
// through reflection, and Decode reads one back strictly: unknown keys,
// missing keys and invalid values are errors naming the field.
//
// # Hashes
//
//	content_hash = SHA-256(JCS(content view))           the 11 content keys
//	genesis_hash = SHA-256(JCS(genesis view))           the 7 genesis keys
//	chain_hash(1) = SHA-256(genesis_hash || content_hash(1))
//	chain_hash(n) = SHA-256(chain_hash(n-1) || content_hash(n))
//	merkle_root  = RFC 6962 tree hash over the content hashes
//
// Decoding never checks hashes: recomputing them and comparing is the work
// of the sealer, the store and the verifier, which report mismatches in
// their own terms.
package evidence

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/scalar"
)

// version is the only schema_version of v1.
const version = 1

// HashAlgorithm is the only hash algorithm of v1.
const HashAlgorithm = "sha256"

// SignatureAlgorithm is the only signature algorithm of v1.
const SignatureAlgorithm = "ed25519"

// Kind is a record's "record" discriminator.
type Kind uint8

// The record kinds.
const (
	KindUnsealed Kind = iota + 1
	KindAttachment
	KindGenesis
	KindEnvelope
	KindElided
	KindSeal
)

var kindNames = [...]string{"", "unsealed", "attachment", "genesis", "envelope", "elided", "seal"}

// String returns the discriminator value.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind maps a discriminator value to its Kind.
func ParseKind(s string) (Kind, bool) {
	for i, n := range kindNames {
		if i > 0 && n == s {
			return Kind(i), true
		}
	}
	return 0, false
}

// Record is any evidence record.
type Record interface {
	Kind() Kind
	// AppendJCS appends the record's canonical JSON line, without the
	// newline, to dst.
	AppendJCS(dst []byte) []byte
}

// Limits bound what a decoder accepts (SPEC §16).
type Limits struct {
	Line           int // bytes per stream line
	Payload        int // bytes of a payload's canonical form
	Attachment     int // bytes of one attachment's data
	AttachmentRefs int // attachment references per envelope
}

// DefaultLimits are the defaults of SPEC §16.
var DefaultLimits = Limits{
	Line:           24 << 20,
	Payload:        4 << 20,
	Attachment:     16 << 20,
	AttachmentRefs: 4096,
}

// WithDefaults returns l with its zero (or negative) fields set from
// DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.Line <= 0 {
		l.Line = d.Line
	}
	if l.Payload <= 0 {
		l.Payload = d.Payload
	}
	if l.Attachment <= 0 {
		l.Attachment = d.Attachment
	}
	if l.AttachmentRefs <= 0 {
		l.AttachmentRefs = d.AttachmentRefs
	}
	return l
}

// AttachmentRef is an envelope's reference to a blob.
type AttachmentRef struct {
	ContentType scalar.ContentType
	Hash        scalar.Digest
	Size        int64
}

// compareRefs orders references by hash, then content type: the order of an
// envelope's attachments array.
func compareRefs(a, b AttachmentRef) int {
	if c := a.Hash.Compare(b.Hash); c != 0 {
		return c
	}
	return cmp.Compare(a.ContentType.String(), b.ContentType.String())
}

func (r AttachmentRef) appendJCS(dst []byte) []byte {
	dst = append(dst, `{"content_type":`...)
	dst = canonical.AppendString(dst, r.ContentType.String())
	dst = append(dst, `,"hash":"`...)
	dst = r.Hash.Append(dst)
	dst = append(dst, `","size":`...)
	dst = strconv.AppendInt(dst, r.Size, 10)
	return append(dst, '}')
}

// Attachment is a content-addressed blob (SPEC §4.2).
type Attachment struct {
	Hash scalar.Digest
	Data []byte
}

// NewAttachment returns the attachment record for data.
func NewAttachment(data []byte) *Attachment {
	return &Attachment{Hash: sha256.Sum256(data), Data: data}
}

// Kind implements Record.
func (*Attachment) Kind() Kind { return KindAttachment }

// Size is the blob's length in bytes.
func (a *Attachment) Size() int64 { return int64(len(a.Data)) }

// Verify reports whether the blob hashes to its hash.
func (a *Attachment) Verify() bool { return sha256.Sum256(a.Data) == a.Hash }

// AppendJCS implements Record.
func (a *Attachment) AppendJCS(dst []byte) []byte {
	dst = append(dst, `{"data":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, a.Data)
	dst = append(dst, `","hash":"`...)
	dst = a.Hash.Append(dst)
	dst = append(dst, `","record":"attachment","size":`...)
	dst = strconv.AppendInt(dst, int64(len(a.Data)), 10)
	return append(dst, '}')
}

// appendOptLabel writes a Label or null.
func appendOptLabel(dst []byte, l scalar.Label) []byte {
	if l.IsZero() {
		return append(dst, "null"...)
	}
	return canonical.AppendString(dst, l.String())
}
