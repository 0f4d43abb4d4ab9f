// Package checkpoint is the one home of a seal's checkpoint (SPEC §11.2):
// the C2SP tlog-checkpoint text a signing recorder signs when it seals a
// segment, and the C2SP signed-note form in which arxi-bundle checkpoints
// prints a seal with its signatures, so that tlog tooling that knows
// nothing of Arxi (golang.org/x/mod/sumdb/note among others) can check it.
//
// The checkpoint of a seal of the segment whose genesis hash is G is
//
//	arxi.dev/segment/<segment_id>
//	<envelope_count>
//	<base64 of the 32 raw bytes of merkle_root>
//	genesis sha256:<hex of G>
//	head sha256:<hex of head_chain_hash>
//	sealed <sealed_at> <reason>
//
// each line ending in "\n". A seal signature is Ed25519 over exactly these
// bytes, which is what a signed-note signature covers. In a note, a key is
// named "arxi-" followed by the first 16 hex digits of its key id, and its
// key hash is the first four bytes of SHA-256(name || "\n" || 0x01 ||
// public key), the hash signed-note defines for Ed25519.
package checkpoint

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// OriginPrefix begins every checkpoint's origin line.
const OriginPrefix = "arxi.dev/segment/"

// Append appends the checkpoint text of seal s, which closes the segment
// whose genesis hash is genesis.
func Append(dst []byte, genesis scalar.Digest, s *evidence.Seal) []byte {
	dst = append(dst, OriginPrefix...)
	dst = s.SegmentID.Append(dst)
	dst = append(dst, '\n')
	dst = strconv.AppendUint(dst, s.EnvelopeCount, 10)
	dst = append(dst, '\n')
	dst = base64.StdEncoding.AppendEncode(dst, s.MerkleRoot[:])
	dst = append(dst, "\ngenesis "...)
	dst = genesis.Append(dst)
	dst = append(dst, "\nhead "...)
	dst = s.HeadChainHash.Append(dst)
	dst = append(dst, "\nsealed "...)
	dst = s.SealedAt.Append(dst)
	dst = append(dst, ' ')
	dst = append(dst, s.Reason...)
	return append(dst, '\n')
}

// KeyName is the signed-note name of the key id: "arxi-" and the first 16
// hex digits of the id.
func KeyName(id scalar.KeyID) string { return "arxi-" + hex.EncodeToString(id[:8]) }

// algEd25519 is the signed-note signature type of Ed25519.
const algEd25519 = 1

// KeyHash is the signed-note key hash of the Ed25519 public key pub named
// name: the first four bytes, big-endian, of SHA-256(name || "\n" || 0x01
// || pub).
func KeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// VerifierKey is the signed-note verifier key of pub:
// "<name>+<hex key hash>+<base64 of 0x01 || pub>", the name being
// KeyName of its key id. note.NewVerifier reads it.
func VerifierKey(pub ed25519.PublicKey) string {
	name := KeyName(scalar.KeyIDOf(pub))
	return name + "+" + hex.EncodeToString(binary.BigEndian.AppendUint32(nil, KeyHash(name, pub))) + "+" +
		base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, pub...))
}

// Keys finds the public key of a key id; ok is false for a key it does
// not know.
type Keys func(id scalar.KeyID) (pub ed25519.PublicKey, ok bool)

// AppendNote appends the signed note of a checkpoint text and its
// signatures (sorted by key id, as a seal holds them): the text, a blank
// line, and for each signature whose key keys knows the line
// "— <name> <base64 of key hash || signature>". It returns the number of
// signatures left out because their key is unknown; a note with no
// signature line is not a valid note, and the caller should not print it.
func AppendNote(dst, text []byte, sigs []evidence.Signature, keys Keys) ([]byte, int) {
	dst = append(dst, text...)
	dst = append(dst, '\n')
	unknown := 0
	for _, s := range sigs {
		pub, ok := keys(s.KeyID)
		if !ok {
			unknown++
			continue
		}
		name := KeyName(s.KeyID)
		dst = append(dst, "— "...)
		dst = append(dst, name...)
		dst = append(dst, ' ')
		var raw [4 + 64]byte
		binary.BigEndian.PutUint32(raw[:4], KeyHash(name, pub))
		copy(raw[4:], s.Value[:])
		dst = base64.StdEncoding.AppendEncode(dst, raw[:])
		dst = append(dst, '\n')
	}
	return dst, unknown
}
