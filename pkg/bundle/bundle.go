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
//	   "head_chain_hash","merkle_root","sealed","segment_id"}],"selector":{…}}
//	genesis
//	attachment*  envelope | elided   …
//	seal?
//
// A segment that holds any selected envelope is exported whole: selected
// envelopes in full, the others as elided records, which keep their
// content and chain hashes so the chain still verifies end to end (§9.3).
// Each blob a disclosed envelope references is present once, immediately
// before the first disclosed envelope that references it; no other blob
// is present. The manifest lists the segments with their counts, heads
// and Merkle roots (so bundle_id changes with any change to the evidence), every
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
// Build reads a Source once: a store, or a sealed stream spooled to a
// temporary file (Spool). It writes the body to a temporary file while it
// learns the manifest (which envelopes are selected, the counts, the
// blobs), then the manifest, then the body. The Source vouches for what it
// yields (it checked hashes, chains and seals), so nothing is checked
// twice.
package bundle

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/jsonobj"
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

// Segment is a manifest's entry for one segment. HeadChainHash and
// MerkleRoot commit the entry, and so bundle_id, to the segment's content
// (SPEC §9.1).
type Segment struct {
	SegmentID     scalar.UUID
	GenesisHash   scalar.Digest
	HeadChainHash scalar.Digest  // chain hash of the last envelope; the genesis hash when it has none
	MerkleRoot    *scalar.Digest // the seal's Merkle root; nil while unsealed
	EnvelopeCount uint64         // envelope and elided records, as the seal counts them
	Disclosed     uint64         // envelope records
	Elided        uint64         // elided records
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
		dst = append(dst, `","head_chain_hash":"`...)
		dst = s.HeadChainHash.Append(dst)
		if s.MerkleRoot == nil {
			dst = append(dst, `","merkle_root":null`...)
		} else {
			dst = append(dst, `","merkle_root":"`...)
			dst = s.MerkleRoot.Append(dst)
			dst = append(dst, '"')
		}
		dst = append(dst, `,"sealed":`...)
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

// The keys of the manifest and its entries, from their schemas
// (schema.go).
var (
	manifestKeys = ManifestSchema.Keys()
	blobKeys     = blobSchema.Keys()
	segmentKeys  = segmentSchema.Keys()
)

// manifestFields is the style of manifest errors: bundle.malformed naming
// the field.
var manifestFields = &jsonobj.Style{Code: errcode.BundleMalformed,
	Unknown: "unknown manifest field", Missing: "required manifest field is missing"}

// ParseManifest decodes a manifest line strictly: every key present, no
// other key, every value valid, lists sorted without repeats, counts that
// add up, and the line exactly the canonical form AppendJCS writes. Errors
// are bundle.malformed naming the field. It does not check bundle_id's
// derivation (that needs the first genesis) nor the version: a reader
// reports an unsupported bundle_version or hash_algorithm itself.
func ParseManifest(line []byte) (*Manifest, error) {
	if _, err := canonical.Transform(line); err != nil {
		return nil, errcode.Wrap(errcode.BundleMalformed, err, "manifest is not strict JSON")
	}
	v := jsonobj.Value{Raw: string(line)}
	if v.Type() != jsonobj.ObjectType {
		return nil, errcode.New(errcode.BundleMalformed, "manifest is not a JSON object")
	}
	o, err := manifestFields.Object(v)
	if err != nil {
		return nil, err
	}
	if err := exactly(&o, manifestKeys...); err != nil {
		return nil, err
	}
	if rec, err := o.String("record"); err != nil {
		return nil, err
	} else if rec != "manifest" {
		return nil, o.Errorf("record", `must be "manifest"`)
	}
	m := &Manifest{}
	if m.BundleID, err = o.UUID("bundle_id"); err != nil {
		return nil, err
	}
	if m.Version, err = o.Int("bundle_version"); err != nil {
		return nil, err
	}
	if m.HashAlgorithm, err = o.String("hash_algorithm"); err != nil {
		return nil, err
	}
	if m.Attachments, err = parseBlobs(&o); err != nil {
		return nil, err
	}
	if m.OmittedParents, err = parseOmitted(&o); err != nil {
		return nil, err
	}
	if m.Segments, err = parseSegments(&o); err != nil {
		return nil, err
	}
	if m.Selector, err = parseSelector(&o); err != nil {
		return nil, err
	}
	if !bytes.Equal(m.AppendJCS(nil), line) {
		return nil, o.Errorf("", "manifest is not in its canonical form")
	}
	return m, nil
}

// exactly fails on the first key of o not in keys, and on a missing one.
func exactly(o *jsonobj.Object, keys ...string) error {
	if err := o.Only(keys...); err != nil {
		return err
	}
	return o.Require(keys...)
}

func parseBlobs(o *jsonobj.Object) ([]Blob, error) {
	blobs := []Blob{}
	err := o.Objects("attachments", 0, func(i int, e *jsonobj.Object) error {
		if err := exactly(e, blobKeys...); err != nil {
			return err
		}
		h, err := e.Digest("hash")
		if err != nil {
			return err
		}
		n, err := e.Int("size")
		if err != nil {
			return err
		}
		if n < 1 {
			return e.Errorf("size", "must be at least 1")
		}
		if i > 0 && blobs[i-1].Hash.Compare(h) >= 0 {
			return e.Errorf("", "attachments must be sorted by hash, without repeats")
		}
		blobs = append(blobs, Blob{Hash: h, Size: n})
		return nil
	})
	return blobs, err
}

func parseOmitted(o *jsonobj.Object) ([]scalar.UUID, error) {
	list, err := o.Array("omitted_parents")
	if err != nil {
		return nil, err
	}
	ids := []scalar.UUID{}
	err = list.Each(func(i int, v jsonobj.Value) error {
		s, err := list.String(i, v)
		if err != nil {
			return err
		}
		id, err := scalar.ParseUUID(s)
		if err != nil {
			return list.Invalid(i, err)
		}
		if i > 0 && ids[i-1].Compare(id) >= 0 {
			return list.Errorf(i, "omitted_parents must be sorted, without repeats")
		}
		ids = append(ids, id)
		return nil
	})
	return ids, err
}

func parseSegments(o *jsonobj.Object) ([]Segment, error) {
	segs := []Segment{}
	err := o.Objects("segments", 0, func(i int, e *jsonobj.Object) error {
		if err := exactly(e, segmentKeys...); err != nil {
			return err
		}
		var s Segment
		var err error
		if s.SegmentID, err = e.UUID("segment_id"); err != nil {
			return err
		}
		if s.GenesisHash, err = e.Digest("genesis_hash"); err != nil {
			return err
		}
		if s.HeadChainHash, err = e.Digest("head_chain_hash"); err != nil {
			return err
		}
		if !e.Get("merkle_root").IsNull() {
			root, err := e.Digest("merkle_root")
			if err != nil {
				return err
			}
			s.MerkleRoot = &root
		}
		if s.Disclosed, err = e.Uint("disclosed"); err != nil {
			return err
		}
		if s.Elided, err = e.Uint("elided"); err != nil {
			return err
		}
		if s.EnvelopeCount, err = e.Uint("envelope_count"); err != nil {
			return err
		}
		if s.Sealed, err = e.Bool("sealed"); err != nil {
			return err
		}
		if s.Sealed != (s.MerkleRoot != nil) {
			return e.Errorf("merkle_root", "must be set for a sealed segment and null for an open one")
		}
		if s.Disclosed+s.Elided != s.EnvelopeCount || s.Disclosed > s.EnvelopeCount {
			return e.Errorf("", "disclosed + elided must equal envelope_count")
		}
		segs = append(segs, s)
		return nil
	})
	return segs, err
}

// Blob finds the manifest's entry for the blob with hash h.
func (m *Manifest) Blob(h scalar.Digest) (int, bool) {
	return slices.BinarySearchFunc(m.Attachments, h, func(b Blob, h scalar.Digest) int { return b.Hash.Compare(h) })
}

// OmitsParent reports whether omitted_parents lists id.
func (m *Manifest) OmitsParent(id scalar.UUID) bool {
	_, ok := slices.BinarySearchFunc(m.OmittedParents, id, scalar.UUID.Compare)
	return ok
}
