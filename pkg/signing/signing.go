// Package signing holds Arxi's Ed25519 keys, signatures and trust roots
// (SPEC §11).
//
// An envelope is signed over its raw 32-byte content hash, a seal over its
// checkpoint text (SPEC §11.2, package checkpoint). A key is named by
// its key id, the SHA-256 of the raw public key. Private keys live in PKCS#8
// PEM files; the secure default is an encrypted key ("ENCRYPTED PRIVATE KEY",
// PBES2) opened with a passphrase, and a plain key is refused unless the
// caller opts down explicitly.
//
// Verification is strict: the standard library's Ed25519 (RFC 8032,
// cofactorless, canonical S), one signature at a time — never batch
// verification, whose acceptance rules differ.
//
// A TrustRoot names the keys an auditor trusts and the policy every
// disclosed envelope must meet: any_trusted_key, all_must_sign or
// threshold k.
package signing

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/safefile"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/youmark/pkcs8"
)

// Limits of SPEC §16.
const (
	MaxKeyFile    = 64 << 10
	MaxPassphrase = 1 << 10
)

// DefaultIterations is the PBKDF2-HMAC-SHA256 iteration count keygen uses
// (the OWASP 2023 recommendation).
const DefaultIterations = 600_000

// maxIterations bounds the work a key file may ask for before it is opened.
const maxIterations = 5_000_000

// Key is an Ed25519 signing key.
type Key struct {
	priv ed25519.PrivateKey
	id   scalar.KeyID
}

// NewKey wraps an Ed25519 private key.
func NewKey(priv ed25519.PrivateKey) *Key {
	pub := priv.Public().(ed25519.PublicKey)
	return &Key{priv: priv, id: scalar.KeyIDOf(pub)}
}

// Generate returns a new key drawn from rand (crypto/rand when nil).
func Generate(r io.Reader) (*Key, error) {
	if r == nil {
		r = rand.Reader
	}
	_, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "generate key")
	}
	return NewKey(priv), nil
}

// KeyID returns the key id.
func (k *Key) KeyID() scalar.KeyID { return k.id }

// PublicKey returns the raw public key.
func (k *Key) PublicKey() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// Sign signs a content hash.
func (k *Key) Sign(content scalar.Digest) evidence.Signature { return k.SignMessage(content[:]) }

// SignMessage signs msg itself: a seal's checkpoint text (SPEC §11.2).
func (k *Key) SignMessage(msg []byte) evidence.Signature {
	sig := evidence.Signature{KeyID: k.id}
	copy(sig.Value[:], ed25519.Sign(k.priv, msg))
	return sig
}

// TrustedKey returns the key's trust-root entry.
func (k *Key) TrustedKey() TrustedKey {
	return TrustedKey{KeyID: k.id, PublicKey: k.PublicKey()}
}

// MarshalPEM writes the key as PKCS#8 PEM: encrypted with PBES2
// (PBKDF2-HMAC-SHA256, AES-256-CBC) under passphrase, or plain when
// passphrase is empty. iterations ≤ 0 means DefaultIterations.
func (k *Key) MarshalPEM(passphrase []byte, iterations int) ([]byte, error) {
	if len(passphrase) == 0 {
		der, err := pkcs8.MarshalPrivateKey(k.priv, nil, nil)
		if err != nil {
			return nil, errcode.Wrap(errcode.Internal, err, "encode key")
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	if iterations <= 0 {
		iterations = DefaultIterations
	}
	der, err := pkcs8.MarshalPrivateKey(k.priv, passphrase, &pkcs8.Opts{
		Cipher:  pkcs8.AES256CBC,
		KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 16, IterationCount: iterations, HMACHash: crypto.SHA256},
	})
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "encrypt key")
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), nil
}

// ParsePEM reads a PKCS#8 PEM Ed25519 key. An encrypted key needs
// passphrase; a plain key is refused (key.plain_refused) unless allowPlain.
func ParsePEM(data, passphrase []byte, allowPlain bool) (*Key, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errcode.New(errcode.KeyMalformed, "no PEM block found")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errcode.New(errcode.KeyMalformed, "unexpected data after the PEM block")
	}
	if len(block.Headers) != 0 {
		return nil, errcode.New(errcode.KeyMalformed, "legacy PEM encryption headers are not supported; use PKCS#8")
	}
	var parsed any
	switch block.Type {
	case "ENCRYPTED PRIVATE KEY":
		if len(passphrase) == 0 {
			return nil, errcode.New(errcode.KeyPassphrase, "the key is encrypted; give its passphrase with --sign-passphrase-file or ARXI_SIGN_PASSPHRASE")
		}
		if err := checkKDF(block.Bytes); err != nil {
			return nil, err
		}
		k, err := parsePKCS8(block.Bytes, passphrase)
		if err != nil {
			return nil, errcode.New(errcode.KeyPassphrase, "cannot decrypt the key: wrong passphrase or damaged file")
		}
		parsed = k
	case "PRIVATE KEY":
		if !allowPlain {
			return nil, errcode.New(errcode.KeyPlainRefused, "the key is not encrypted; encrypt it, or pass --insecure-plain-key to accept it")
		}
		k, err := parsePKCS8(block.Bytes, nil)
		if err != nil {
			return nil, errcode.Wrap(errcode.KeyMalformed, err, "parse PKCS#8 key")
		}
		parsed = k
	default:
		return nil, errcode.New(errcode.KeyMalformed, "PEM block is %q, want \"ENCRYPTED PRIVATE KEY\" or \"PRIVATE KEY\"", block.Type)
	}
	priv, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, errcode.New(errcode.KeyMalformed, "the key is %T, want an Ed25519 key", parsed)
	}
	return NewKey(priv), nil
}

// parsePKCS8 runs the PKCS#8 parser, turning a panic inside it (it has
// panicked on malformed parameters that checkKDF does not anticipate) into an
// error: key files are input, and input never crashes the process.
func parsePKCS8(der, passphrase []byte) (key any, err error) {
	defer func() {
		if r := recover(); r != nil {
			key, err = nil, fmt.Errorf("malformed PKCS#8 structure: %v", r)
		}
	}()
	if passphrase == nil {
		return pkcs8.ParsePKCS8PrivateKey(der)
	}
	return pkcs8.ParsePKCS8PrivateKey(der, passphrase)
}

// checkKDF refuses, before any work is done, a PBES2 key whose PBKDF2
// iteration count or scrypt cost would make opening it unreasonably slow, or
// whose cipher is not AES-CBC with a 16-byte IV.
func checkKDF(der []byte) error {
	var info struct {
		Algo struct {
			OID    asn1.ObjectIdentifier
			Params struct {
				KDF struct {
					OID    asn1.ObjectIdentifier
					Params asn1.RawValue
				}
				Cipher asn1.RawValue
			}
		}
		Data []byte
	}
	if _, err := asn1.Unmarshal(der, &info); err != nil {
		return errcode.Wrap(errcode.KeyMalformed, err, "parse encrypted key")
	}
	switch info.Algo.Params.KDF.OID.String() {
	case "1.2.840.113549.1.5.12": // PBKDF2
		var p struct {
			Salt       []byte
			Iterations int
			Rest       asn1.RawValue `asn1:"optional"`
		}
		if _, err := asn1.Unmarshal(info.Algo.Params.KDF.Params.FullBytes, &p); err != nil {
			return errcode.Wrap(errcode.KeyMalformed, err, "parse PBKDF2 parameters")
		}
		if p.Iterations < 1 || p.Iterations > maxIterations {
			return errcode.New(errcode.KeyMalformed, "PBKDF2 iteration count %d is outside 1..%d", p.Iterations, maxIterations)
		}
	case "1.3.6.1.4.1.11591.4.11": // scrypt
		var p struct {
			Salt     []byte
			N, R, P  int
			Optional asn1.RawValue `asn1:"optional"`
		}
		if _, err := asn1.Unmarshal(info.Algo.Params.KDF.Params.FullBytes, &p); err != nil {
			return errcode.Wrap(errcode.KeyMalformed, err, "parse scrypt parameters")
		}
		if p.N < 2 || p.N > 1<<20 || p.R < 1 || p.R > 32 || p.P < 1 || p.P > 16 {
			return errcode.New(errcode.KeyMalformed, "scrypt parameters N=%d r=%d p=%d are outside the accepted range", p.N, p.R, p.P)
		}
	default:
		return errcode.New(errcode.KeyMalformed, "unsupported key derivation %s; use PBES2 with PBKDF2 or scrypt", info.Algo.Params.KDF.OID)
	}
	var cipher struct {
		OID asn1.ObjectIdentifier
		IV  []byte
	}
	if _, err := asn1.Unmarshal(info.Algo.Params.Cipher.FullBytes, &cipher); err != nil {
		return errcode.Wrap(errcode.KeyMalformed, err, "parse the key's cipher parameters")
	}
	switch cipher.OID.String() {
	case "2.16.840.1.101.3.4.1.2", "2.16.840.1.101.3.4.1.22", "2.16.840.1.101.3.4.1.42": // AES-128/192/256-CBC
		if len(cipher.IV) != 16 {
			return errcode.New(errcode.KeyMalformed, "AES-CBC IV is %d bytes, want 16", len(cipher.IV))
		}
	default:
		return errcode.New(errcode.KeyMalformed, "unsupported key cipher %s; use AES-CBC", cipher.OID)
	}
	return nil
}

// KeyFile is a private key file to load (SPEC §11).
type KeyFile struct {
	Path       string
	Passphrase []byte // for an encrypted key
	// AllowPlain accepts an unencrypted key (--insecure-plain-key).
	AllowPlain bool
	// AllowReadable accepts a file its group or others may read; only the
	// sidecar's dev profile sets it. --insecure-plain-key does not.
	AllowReadable bool
}

// Load reads the key file (a regular file of at most 64 KiB that only its
// owner may read, else key.insecure_file) with ParsePEM.
func (kf KeyFile) Load() (*Key, error) {
	data, err := safefile.Input{What: "key file", Code: errcode.KeyMalformed, Max: MaxKeyFile, Private: true,
		AllowReadable: kf.AllowReadable}.Read(kf.Path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePEM(data, kf.Passphrase, kf.AllowPlain)
	if err != nil {
		return nil, errcode.WithPath(err, kf.Path)
	}
	return k, nil
}

// LoadKey loads the key file at path: KeyFile{path, passphrase, allowPlain}.Load().
func LoadKey(path string, passphrase []byte, allowPlain bool) (*Key, error) {
	return KeyFile{Path: path, Passphrase: passphrase, AllowPlain: allowPlain}.Load()
}

// ReadPassphrase reads a passphrase file (a regular file of at most 1 KiB
// that only its owner may read), dropping one trailing newline.
func ReadPassphrase(path string) ([]byte, error) { return ReadPassphraseFile(path, false) }

// ReadPassphraseFile is ReadPassphrase; allowReadable accepts a file its
// group or others may read (the sidecar's dev profile only).
func ReadPassphraseFile(path string, allowReadable bool) ([]byte, error) {
	data, err := safefile.Input{What: "passphrase file", Code: errcode.KeyPassphrase, Max: MaxPassphrase, Private: true,
		AllowReadable: allowReadable}.Read(path)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	if len(data) == 0 {
		return nil, &errcode.Error{Code: errcode.KeyPassphrase, Path: path, Msg: "passphrase file is empty"}
	}
	return data, nil
}

// LoadPublicKey reads the public key a file holds, as a trust-root entry:
// a key entry {"algorithm","key_id","public_key"} (what keygen prints), a
// PEM "PUBLIC KEY" (SubjectPublicKeyInfo), or a private key file, plain or
// encrypted — passphrase is called for an encrypted one. A private key
// file must be one only its owner may read (key.insecure_file).
func LoadPublicKey(path string, passphrase func() ([]byte, error)) (TrustedKey, error) {
	data, err := safefile.Input{What: "key file", Code: errcode.KeyMalformed, Max: MaxKeyFile}.Read(path)
	if err != nil {
		return TrustedKey{}, err
	}
	inFile := func(err error) error { return errcode.WithPath(err, path) }
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN ")) {
		k, err := ParseKeyEntry(data)
		return k, inFile(err)
	}
	block, _ := pem.Decode(data)
	if block != nil && block.Type == "PUBLIC KEY" {
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		ed, ok := pub.(ed25519.PublicKey)
		if err != nil || !ok {
			return TrustedKey{}, &errcode.Error{Code: errcode.KeyMalformed, Path: path, Msg: "not an Ed25519 public key", Err: err}
		}
		return TrustedKey{KeyID: scalar.KeyIDOf(ed), PublicKey: ed}, nil
	}
	if _, err := (safefile.Input{What: "key file", Code: errcode.KeyMalformed, Private: true}).Check(path); err != nil {
		return TrustedKey{}, err
	}
	var pass []byte
	if block != nil && block.Type == "ENCRYPTED PRIVATE KEY" && passphrase != nil {
		if pass, err = passphrase(); err != nil {
			return TrustedKey{}, err
		}
	}
	k, err := ParsePEM(data, pass, true)
	if err != nil {
		return TrustedKey{}, inFile(err)
	}
	return k.TrustedKey(), nil
}

// Verify reports whether sig is a valid Ed25519 signature by pub over the
// content hash.
func Verify(pub ed25519.PublicKey, content scalar.Digest, sig [64]byte) bool {
	return VerifyMessage(pub, content[:], sig)
}

// VerifyMessage reports whether sig is a valid Ed25519 signature by pub
// over msg itself (a seal's checkpoint text, SPEC §11.2).
func VerifyMessage(pub ed25519.PublicKey, msg []byte, sig [64]byte) bool {
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	return ed25519.Verify(pub, msg, sig[:])
}

// TrustedKey is one entry of a trust root.
type TrustedKey struct {
	KeyID     scalar.KeyID
	PublicKey ed25519.PublicKey
}

// AppendJCS writes the entry {"algorithm","key_id","public_key"}, the line
// keygen prints.
func (t TrustedKey) AppendJCS(dst []byte) []byte {
	dst = append(dst, `{"algorithm":"ed25519","key_id":"`...)
	dst = t.KeyID.Append(dst)
	dst = append(dst, `","public_key":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, t.PublicKey)
	return append(dst, `"}`...)
}
