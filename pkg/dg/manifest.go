package dg

import (
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/jsonobj"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/tidwall/gjson"
)

// ManifestVersion is the only runpack manifest version this package reads.
const ManifestVersion = "v1"

// ManifestPath is the source path of the manifest in envelope ids and
// payloads, whatever the file was called on disk.
const ManifestPath = "manifest.json"

// Manifest is a decoded runpack manifest (DG's RunpackManifest).
type Manifest struct {
	Version       string
	ScenarioID    string
	RunID         string
	TenantID      uint64
	NamespaceID   uint64
	SpecHash      scalar.Digest
	HashAlgorithm string
	VerifierMode  string
	FileHashes    []FileHash // integrity.file_hashes, in manifest order
	RootHash      scalar.Digest
	Artifacts     []Artifact

	generatedAt dgTime
	scenario    scalar.Label // ScenarioID as a session_id
	run         scalar.Label // RunID as a trace_id
	// fileHashesJCS is the JCS form of integrity.file_hashes, the input of
	// the root hash.
	fileHashesJCS []byte
	// meta is the JCS form of the manifest's metadata: every top-level
	// member except artifacts and integrity, plus root_hash.
	meta []byte
	// canon is the JCS form of the whole manifest.
	canon []byte
}

// FileHash is an integrity.file_hashes entry.
type FileHash struct {
	Path string
	Hash scalar.Digest
}

// Artifact is an artifacts entry.
type Artifact struct {
	ID          string
	Kind        string
	Path        string
	ContentType string // "" for null
	Hash        scalar.Digest
	Required    bool
}

// decodeManifest decodes a manifest strictly. Unknown top-level members are
// kept (DG adds optional members, such as security, within v1) and carried
// in the dg.runpack payload; everything Arxi relies on is checked.
func decodeManifest(raw []byte) (*Manifest, error) {
	d := newDecoder(ManifestPath)
	var c canonical.Canonicalizer
	canon, err := d.parse(&c, raw)
	if err != nil {
		return nil, err
	}
	root, err := d.st.Object(jsonobj.Value{Raw: string(raw)})
	if err != nil {
		return nil, err
	}
	m := &Manifest{canon: canon}
	// The version decides how to read the rest, so it comes first.
	if m.Version, err = root.String("manifest_version"); err != nil {
		return nil, err
	}
	if m.Version != ManifestVersion {
		return nil, root.Errorf("manifest_version", "unsupported manifest version %s: want %q", abbrev(strconv.Quote(m.Version)), ManifestVersion)
	}
	if m.HashAlgorithm, err = root.String("hash_algorithm"); err != nil {
		return nil, err
	}
	if m.HashAlgorithm != "sha256" {
		return nil, root.Errorf("hash_algorithm", "unsupported hash algorithm %s: want \"sha256\"", abbrev(strconv.Quote(m.HashAlgorithm)))
	}
	if m.generatedAt, err = timeOf(&root, "generated_at"); err != nil {
		return nil, err
	}
	if m.scenario, err = label(&root, "scenario_id"); err != nil {
		return nil, err
	}
	m.ScenarioID = m.scenario.String()
	if m.run, err = label(&root, "run_id"); err != nil {
		return nil, err
	}
	m.RunID = m.run.String()
	for _, k := range []string{"tenant_id", "namespace_id"} {
		n, err := root.Uint(k)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, root.Errorf(k, "must be at least 1")
		}
		if k == "tenant_id" {
			m.TenantID = n
		} else {
			m.NamespaceID = n
		}
	}
	if m.SpecHash, err = digest(&root, "spec_hash"); err != nil {
		return nil, err
	}
	if m.VerifierMode, err = root.String("verifier_mode"); err != nil {
		return nil, err
	}
	for _, k := range []string{"anchor_policy", "security"} {
		if _, _, err := root.OptObject(k); err != nil {
			return nil, err
		}
	}
	integrity, err := root.Object("integrity")
	if err != nil {
		return nil, err
	}
	if err := integrity.Only("file_hashes", "root_hash"); err != nil {
		return nil, err
	}
	if m.RootHash, err = digest(&integrity, "root_hash"); err != nil {
		return nil, err
	}
	fh, err := integrity.Array("file_hashes")
	if err != nil {
		return nil, err
	}
	for i, v := range fh.Values() {
		e, err := fh.Object(i, v)
		if err != nil {
			return nil, err
		}
		if err := e.Only("path", "hash"); err != nil {
			return nil, err
		}
		var f FileHash
		if f.Path, err = e.String("path"); err != nil {
			return nil, err
		}
		if f.Hash, err = digest(&e, "hash"); err != nil {
			return nil, err
		}
		m.FileHashes = append(m.FileHashes, f)
	}
	arts, err := root.Array("artifacts")
	if err != nil {
		return nil, err
	}
	for i, v := range arts.Values() {
		e, err := arts.Object(i, v)
		if err != nil {
			return nil, err
		}
		a, err := artifact(&e)
		if err != nil {
			return nil, err
		}
		m.Artifacts = append(m.Artifacts, a)
	}
	// The JCS forms come from the canonical text, so the root hash covers
	// the list exactly as the manifest states it.
	croot := gjson.Parse(string(canon))
	m.fileHashesJCS = []byte(croot.Get("integrity.file_hashes").Raw)
	if m.meta, err = manifestMeta(croot); err != nil {
		return nil, d.errf("$", "%v", err)
	}
	return m, nil
}

func artifact(e *jsonobj.Object) (Artifact, error) {
	var a Artifact
	if err := e.Only("artifact_id", "kind", "path", "content_type", "hash", "required"); err != nil {
		return a, err
	}
	var err error
	if a.ID, err = e.String("artifact_id"); err != nil {
		return a, err
	}
	if a.Kind, err = e.String("kind"); err != nil {
		return a, err
	}
	if a.Path, err = e.String("path"); err != nil {
		return a, err
	}
	if a.ContentType, _, err = e.OptString("content_type"); err != nil {
		return a, err
	}
	if a.Hash, err = digest(e, "hash"); err != nil {
		return a, err
	}
	if a.Required, err = e.Bool("required"); err != nil {
		return a, err
	}
	return a, nil
}

// manifestMeta returns the JCS form of the manifest without artifacts and
// integrity, with integrity.root_hash as root_hash (replacing a top-level
// root_hash member, which DG does not write).
func manifestMeta(croot gjson.Result) ([]byte, error) {
	b := []byte{'{'}
	first := true
	croot.ForEach(func(k, v gjson.Result) bool {
		if k.Str == "artifacts" || k.Str == "integrity" || k.Str == "root_hash" {
			return true
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, k.Raw...)
		b = append(b, ':')
		b = append(b, v.Raw...)
		return true
	})
	if !first {
		b = append(b, ',')
	}
	b = append(b, `"root_hash":`...)
	b = append(b, croot.Get("integrity.root_hash").Raw...)
	b = append(b, '}')
	return canonical.Transform(b)
}
