// Package bundle builds and reads Arxi bundles (SPEC §9): self-contained
// NDJSON files that carry selected evidence, with everything a verifier
// needs to check it offline.
//
// # Format
//
// Line 1 is the manifest; then, for each segment in store order, its
// genesis, attachment blobs, envelope and elided records, and its seal if
// it is sealed:
//
//	{"attachments":[{"hash","size"}],"bundle_id","bundle_version":1,
//	 "hash_algorithm":"sha256","omitted_parents":[],"record":"manifest",
//	 "segments":[{"disclosed","elided","envelope_count","genesis_hash",
//	   "sealed","segment_id"}],"selector":{…}}
//	genesis
//	attachment*  envelope | elided   …
//	seal?
//
// A segment that holds any selected envelope is exported whole: selected
// envelopes in full, the others as elided records, which keep their
// content and chain hashes so the chain still verifies end to end (§9.3).
// Each blob a disclosed envelope references is present once, immediately
// before the first disclosed envelope that references it; no other blob
// is present. The manifest lists the segments with their counts, every
// blob, the predecessor segments named by an included genesis but not
// included (omitted_parents), and the selector.
//
// # Identity and determinism
//
// Every line is canonical (RFC 8785), segments come in store order and
// blobs in hash order, so the same source and selector always give the
// same bytes. bundle_id is derived (SPEC §5.6) from the created_at of the
// bundle's first genesis and the SHA-256 of the canonical manifest without
// bundle_id. A bundle always holds at least one segment: Build refuses an
// empty selection (bundle.empty) rather than write a bundle that proves
// nothing.
//
// # Building
//
// Build reads a Source twice: first to plan (which envelopes are selected,
// the counts, the blobs — the manifest), then to write. A Source is a
// store or a sealed stream spooled to a temporary file (Spool).
package bundle

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// Version is the bundle_version this package writes and reads.
const Version = 1

// Manifest is a bundle's first line (SPEC §9.1).
type Manifest struct {
	BundleID       scalar.UUID
	Version        int64  // bundle_version; Version when built
	HashAlgorithm  string // hash_algorithm; evidence.HashAlgorithm when built
	Attachments    []Blob // sorted by hash
	OmittedParents []scalar.UUID
	Segments       []Segment
	Selector       Selector
}

// Blob is a manifest's entry for one attachment.
type Blob struct {
	Hash scalar.Digest
	Size int64
}

// Segment is a manifest's entry for one segment.
type Segment struct {
	SegmentID     scalar.UUID
	GenesisHash   scalar.Digest
	EnvelopeCount uint64 // envelope and elided records, as the seal counts them
	Disclosed     uint64 // envelope records
	Elided        uint64 // elided records
	Sealed        bool
}

// Totals sums the manifest's segment counts.
func (m *Manifest) Totals() (envelopes, disclosed, elided uint64) {
	for _, s := range m.Segments {
		envelopes += s.EnvelopeCount
		disclosed += s.Disclosed
		elided += s.Elided
	}
	return
}

// AppendJCS appends the manifest's canonical line, without newline.
func (m *Manifest) AppendJCS(dst []byte) []byte { return m.appendJCS(dst, true) }

// AppendUnsigned appends the canonical manifest without bundle_id: the
// bytes bundle_id is derived from.
func (m *Manifest) AppendUnsigned(dst []byte) []byte { return m.appendJCS(dst, false) }

func (m *Manifest) appendJCS(dst []byte, withID bool) []byte {
	dst = append(dst, `{"attachments":[`...)
	for i, b := range m.Attachments {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"hash":"`...)
		dst = b.Hash.Append(dst)
		dst = append(dst, `","size":`...)
		dst = strconv.AppendInt(dst, b.Size, 10)
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if withID {
		dst = append(dst, `,"bundle_id":"`...)
		dst = m.BundleID.Append(dst)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"bundle_version":`...)
	dst = strconv.AppendInt(dst, m.Version, 10)
	dst = append(dst, `,"hash_algorithm":`...)
	dst = canonical.AppendString(dst, m.HashAlgorithm)
	dst = append(dst, `,"omitted_parents":[`...)
	for i, id := range m.OmittedParents {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = id.Append(dst)
		dst = append(dst, '"')
	}
	dst = append(dst, `],"record":"manifest","segments":[`...)
	for i, s := range m.Segments {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"disclosed":`...)
		dst = strconv.AppendUint(dst, s.Disclosed, 10)
		dst = append(dst, `,"elided":`...)
		dst = strconv.AppendUint(dst, s.Elided, 10)
		dst = append(dst, `,"envelope_count":`...)
		dst = strconv.AppendUint(dst, s.EnvelopeCount, 10)
		dst = append(dst, `,"genesis_hash":"`...)
		dst = s.GenesisHash.Append(dst)
		dst = append(dst, `","sealed":`...)
		dst = strconv.AppendBool(dst, s.Sealed)
		dst = append(dst, `,"segment_id":"`...)
		dst = s.SegmentID.Append(dst)
		dst = append(dst, `"}`...)
	}
	dst = append(dst, `],"selector":`...)
	dst = m.Selector.AppendJCS(dst)
	return append(dst, '}')
}

// DeriveID returns the bundle_id of SPEC §5.6 for the manifest, given the
// created_at of the bundle's first genesis.
func (m *Manifest) DeriveID(firstCreatedAt scalar.Timestamp) scalar.UUID {
	return evidence.DeriveBundleID(firstCreatedAt, m.AppendUnsigned(nil))
}

// IsManifest reports whether a canonical line is a manifest record, so a
// reader can tell a bundle from a bare sealed stream by its first line.
func IsManifest(line []byte) bool {
	var probe struct {
		Record string `json:"record"`
	}
	// Any line holding "record":"manifest" at the top level; the strict
	// decode comes after.
	return json.Unmarshal(line, &probe) == nil && probe.Record == "manifest"
}

type rawManifest struct {
	Attachments    []rawBlob       `json:"attachments"`
	BundleID       string          `json:"bundle_id"`
	BundleVersion  int64           `json:"bundle_version"`
	HashAlgorithm  string          `json:"hash_algorithm"`
	OmittedParents []string        `json:"omitted_parents"`
	Record         string          `json:"record"`
	Segments       []rawSegment    `json:"segments"`
	Selector       json.RawMessage `json:"selector"`
}

type rawBlob struct {
	Hash string `json:"hash"`
	Size int64  `json:"size"`
}

type rawSegment struct {
	Disclosed     uint64 `json:"disclosed"`
	Elided        uint64 `json:"elided"`
	EnvelopeCount uint64 `json:"envelope_count"`
	GenesisHash   string `json:"genesis_hash"`
	Sealed        bool   `json:"sealed"`
	SegmentID     string `json:"segment_id"`
}

var manifestKeys = []string{"attachments", "bundle_id", "bundle_version", "hash_algorithm",
	"omitted_parents", "record", "segments", "selector"}

// ParseManifest decodes a manifest line strictly: every key present, no
// other key, every value valid, lists sorted without repeats, counts that
// add up, and the line exactly the canonical form AppendJCS writes. Errors
// are bundle.malformed naming the field. It does not check bundle_id's
// derivation (that needs the first genesis) nor the version: a reader
// reports an unsupported bundle_version or hash_algorithm itself.
func ParseManifest(line []byte) (*Manifest, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(line, &keys); err != nil {
		return nil, errcode.Wrap(errcode.BundleMalformed, err, "manifest is not a JSON object")
	}
	for k := range keys {
		if !containsString(manifestKeys, k) {
			return nil, &errcode.Error{Code: errcode.BundleMalformed, Field: k, Msg: "unknown manifest field"}
		}
	}
	for _, k := range manifestKeys {
		if _, ok := keys[k]; !ok {
			return nil, &errcode.Error{Code: errcode.BundleMalformed, Field: k, Msg: "required manifest field is missing"}
		}
	}
	var r rawManifest
	if err := strictUnmarshal(line, &r); err != nil {
		return nil, err
	}
	bad := func(field, msg string) error {
		return &errcode.Error{Code: errcode.BundleMalformed, Field: field, Msg: msg}
	}
	if r.Record != "manifest" {
		return nil, bad("record", `must be "manifest"`)
	}
	m := &Manifest{Version: r.BundleVersion, HashAlgorithm: r.HashAlgorithm}
	var err error
	if m.BundleID, err = scalar.ParseUUID(r.BundleID); err != nil {
		return nil, asMalformed(errcode.InField(err, "bundle_id"))
	}
	m.Attachments = make([]Blob, len(r.Attachments))
	for i, b := range r.Attachments {
		at := "attachments[" + itoa(i) + "]"
		h, err := scalar.ParseDigest(b.Hash)
		if err != nil {
			return nil, asMalformed(errcode.InField(err, at+".hash"))
		}
		if b.Size < 1 {
			return nil, bad(at+".size", "must be at least 1")
		}
		if i > 0 && bytes.Compare(m.Attachments[i-1].Hash[:], h[:]) >= 0 {
			return nil, bad(at, "attachments must be sorted by hash, without repeats")
		}
		m.Attachments[i] = Blob{Hash: h, Size: b.Size}
	}
	m.OmittedParents = make([]scalar.UUID, len(r.OmittedParents))
	for i, s := range r.OmittedParents {
		at := "omitted_parents[" + itoa(i) + "]"
		id, err := scalar.ParseUUID(s)
		if err != nil {
			return nil, asMalformed(errcode.InField(err, at))
		}
		if i > 0 && bytes.Compare(m.OmittedParents[i-1][:], id[:]) >= 0 {
			return nil, bad(at, "omitted_parents must be sorted, without repeats")
		}
		m.OmittedParents[i] = id
	}
	m.Segments = make([]Segment, len(r.Segments))
	for i, s := range r.Segments {
		at := "segments[" + itoa(i) + "]"
		id, err := scalar.ParseUUID(s.SegmentID)
		if err != nil {
			return nil, asMalformed(errcode.InField(err, at+".segment_id"))
		}
		gh, err := scalar.ParseDigest(s.GenesisHash)
		if err != nil {
			return nil, asMalformed(errcode.InField(err, at+".genesis_hash"))
		}
		if s.Disclosed+s.Elided != s.EnvelopeCount || s.Disclosed > s.EnvelopeCount {
			return nil, bad(at, "disclosed + elided must equal envelope_count")
		}
		m.Segments[i] = Segment{SegmentID: id, GenesisHash: gh, EnvelopeCount: s.EnvelopeCount,
			Disclosed: s.Disclosed, Elided: s.Elided, Sealed: s.Sealed}
	}
	if m.Selector, err = parseSelector(r.Selector); err != nil {
		return nil, err
	}
	if !bytes.Equal(m.AppendJCS(nil), line) {
		return nil, bad("", "manifest is not in its canonical form")
	}
	return m, nil
}

// strictUnmarshal decodes JSON rejecting unknown fields, as bundle.malformed.
func strictUnmarshal(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return errcode.Wrap(errcode.BundleMalformed, err, "invalid manifest")
	}
	return nil
}

// asMalformed recodes a field error as bundle.malformed.
func asMalformed(err error) error {
	if e, ok := errcode.As(err); ok {
		e.Code = errcode.BundleMalformed
	}
	return err
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func itoa(i int) string { return strconv.Itoa(i) }

// Blob finds the manifest's entry for the blob with hash h.
func (m *Manifest) Blob(h scalar.Digest) (int, bool) {
	return slices.BinarySearchFunc(m.Attachments, h, func(b Blob, h scalar.Digest) int { return bytes.Compare(b.Hash[:], h[:]) })
}

// OmitsParent reports whether omitted_parents lists id.
func (m *Manifest) OmitsParent(id scalar.UUID) bool {
	_, ok := slices.BinarySearchFunc(m.OmittedParents, id, compareUUID)
	return ok
}
