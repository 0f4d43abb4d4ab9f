package dg

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/redact"
	"arxi.dev/arxi/pkg/scalar"
)

// IntegrityPath is the source path of the dg.runpack.integrity_anomaly
// envelope in its id and payload.
const IntegrityPath = "integrity"

// idDomain starts the seed of every envelope id this package derives.
const idDomain = "arxi/v1/dg\x00"

// Limits of one envelope's attachments: the references SPEC §16 allows,
// and the blob bytes arxi-seal holds before the envelope that uses them.
const (
	maxAttachRefs  = 4096
	maxAttachBytes = 64 << 20
)

// EnvelopeID derives an envelope id (DG.md §3): uuid7(claimedAt,
// "arxi/v1/dg\0" || root (32 bytes) || path || "\0" || index (8 bytes,
// big-endian)). For a runpack, root is its root hash and path the source
// file's manifest path; for a transcript, root is the transcript file's
// SHA-256, path the event type and index the sequence.
func EnvelopeID(claimedAt scalar.Timestamp, root scalar.Digest, path string, index uint64) scalar.UUID {
	seed := make([]byte, 0, len(idDomain)+32+len(path)+9)
	seed = append(seed, idDomain...)
	seed = append(seed, root[:]...)
	seed = append(seed, path...)
	seed = append(seed, 0)
	seed = binary.BigEndian.AppendUint64(seed, index)
	return scalar.DeriveUUID7(claimedAt, seed)
}

// planned is one envelope to emit.
type planned struct {
	event   string
	src     int     // index into sources, or -1 for the manifest and the anomaly
	rec     *record // nil for the manifest and the anomaly
	claimed scalar.Timestamp
	attach  []*attachment
}

type attachment struct {
	ref  evidence.AttachmentRef
	data []byte
}

// Map writes the runpack's envelopes to emit (DG.md §3): in Anomaly mode
// with failures a dg.runpack.integrity_anomaly first, then dg.runpack, then
// one envelope per record of each artifact in mapping order. In Strict mode
// a runpack that failed a check yields an *IntegrityError and one whose
// artifact did not decode its dg.malformed error, and nothing is emitted.
// Every claimed_at is computed before the first record is emitted, so a
// runpack that cannot be mapped emits nothing. Map does not change the
// Runpack; it may be called again, or concurrently, with other Configs.
func (rp *Runpack) Map(cfg Config, emit Emit) (Stats, error) {
	var st Stats
	if cfg.Mode == Strict {
		if len(rp.checks) > 0 {
			return st, newIntegrityError(rp.Dir, rp.checks)
		}
		if len(rp.decodeErrs) > 0 {
			return st, rp.decodeErrs[0]
		}
	}
	m := rp.Manifest
	env := cfg.Environment
	if env.IsZero() {
		l, err := scalar.ParseLabel(fmt.Sprintf("tenant-%d/namespace-%d", m.TenantID, m.NamespaceID))
		if err != nil {
			return st, errcode.Wrap(errcode.Internal, err, "default environment")
		}
		env = l
	}
	plan, err := rp.plan(cfg)
	if err != nil {
		return st, err
	}
	mp := &mapper{
		rp: rp, cfg: cfg, red: cfg.policy().Redactor(), emitted: map[scalar.Digest]bool{}, emit: emit,
		content: evidence.Content{
			ActorID:       cfg.actor(),
			EnvironmentID: env,
			AdapterID:     scalar.MustToken(AdapterID),
			TraceID:       m.run,
			SessionID:     m.scenario,
		},
	}
	mp.runpackJSON = rp.runpackJSON()
	for _, p := range plan {
		var payload []byte
		switch {
		case p.event == EventAnomaly:
			payload = mp.anomalyPayload()
		case p.event == EventRunpack:
			payload = mp.runpackPayload()
		default:
			payload = mp.recordPayload(&sources[p.src], p.rec)
		}
		if err := mp.envelope(p, payload); err != nil {
			return mp.st, err
		}
	}
	return mp.st, nil
}

// plan lists the envelopes with their claimed_at and attachments.
func (rp *Runpack) plan(cfg Config) ([]planned, error) {
	m := rp.Manifest
	gen, err := m.generatedAt.instant(cfg.LogicalEpoch)
	if err != nil {
		return nil, err
	}
	var plan []planned
	if cfg.Mode == Anomaly && !rp.Verified() {
		plan = append(plan, planned{event: EventAnomaly, src: -1, claimed: gen})
	}
	plan = append(plan, planned{event: EventRunpack, src: -1, claimed: gen})
	runpackAt := len(plan) - 1
	first := map[string]int{} // source path → its first envelope
	for i, sd := range rp.srcs {
		if sd == nil {
			continue
		}
		for _, r := range sd.recs {
			t := gen
			if r.hasTime {
				if t, err = r.time.instant(cfg.LogicalEpoch); err != nil {
					return nil, err
				}
			}
			if _, ok := first[sources[i].path]; !ok {
				first[sources[i].path] = len(plan)
			}
			plan = append(plan, planned{event: sources[i].event, src: i, rec: r, claimed: t})
		}
	}
	plan[runpackAt].attach = append(plan[runpackAt].attach, &attachment{
		ref:  evidence.AttachmentRef{ContentType: scalar.MustContentType("application/json"), Hash: rp.ManifestSHA256, Size: int64(len(rp.manifestRaw))},
		data: rp.manifestRaw,
	})
	if cfg.AttachArtifacts {
		for _, f := range rp.files {
			if len(f.data) == 0 {
				continue // unreadable, or empty: an attachment holds at least one byte
			}
			at, ok := first[f.path]
			if !ok {
				at = runpackAt
			}
			ct := scalar.MustContentType("application/octet-stream")
			if f.artifact != nil && f.artifact.ContentType != "" {
				if c, err := scalar.ParseContentType(f.artifact.ContentType); err == nil {
					ct = c
				}
			}
			p := &plan[at]
			dup := false
			for _, a := range p.attach {
				dup = dup || a.ref.Hash == f.sum && a.ref.ContentType == ct
			}
			if !dup {
				p.attach = append(p.attach, &attachment{ref: evidence.AttachmentRef{ContentType: ct, Hash: f.sum, Size: int64(len(f.data))}, data: f.data})
			}
		}
		for _, p := range plan {
			n := 0
			for _, a := range p.attach {
				n += len(a.data)
			}
			if len(p.attach) > maxAttachRefs || n > maxAttachBytes {
				return nil, &errcode.Error{Code: errcode.InputTooLarge, Path: rp.Dir,
					Msg:  fmt.Sprintf("%s envelope would carry %d attachments of %d bytes; the limits are %d and %d", p.event, len(p.attach), n, maxAttachRefs, maxAttachBytes),
					Hint: "map without --attach-artifacts"}
			}
		}
	}
	return plan, nil
}

// mapper holds the state of one Map call.
type mapper struct {
	rp          *Runpack
	cfg         Config
	red         *redact.Redactor
	emit        Emit
	emitted     map[scalar.Digest]bool
	content     evidence.Content
	runpackJSON []byte
	buf         []byte
	st          Stats
}

// runpackJSON is the payload's runpack object.
func (rp *Runpack) runpackJSON() []byte {
	m := rp.Manifest
	b := []byte(`{"manifest_sha256":"`)
	b = hex.AppendEncode(b, rp.ManifestSHA256[:])
	b = append(b, `","root_hash":"`...)
	b = hex.AppendEncode(b, m.RootHash[:])
	b = append(b, `","run_id":`...)
	b = canonical.AppendString(b, m.RunID)
	b = append(b, `,"scenario_id":`...)
	b = canonical.AppendString(b, m.ScenarioID)
	return append(b, '}')
}

func (mp *mapper) envelope(p planned, payload []byte) error {
	c := mp.content
	c.EventType = scalar.MustToken(p.event)
	c.ClaimedAt = p.claimed
	path, idx := ManifestPath, uint64(0)
	switch {
	case p.event == EventAnomaly:
		path = IntegrityPath
	case p.rec != nil:
		path, idx = sources[p.src].path, uint64(p.rec.index)
	}
	c.EnvelopeID = EnvelopeID(p.claimed, mp.rp.Manifest.RootHash, path, idx)
	c.Payload = string(payload)
	u := &evidence.Unsealed{Content: c}
	if len(p.attach) > 0 {
		refs := make([]evidence.AttachmentRef, len(p.attach))
		for i, a := range p.attach {
			refs[i] = a.ref
			if !mp.emitted[a.ref.Hash] {
				mp.emitted[a.ref.Hash] = true
				mp.st.Attachments++
				if err := mp.emit(&evidence.Attachment{Hash: a.ref.Hash, Data: a.data}); err != nil {
					return err
				}
			}
		}
		u.SetAttachments(refs, make([][]byte, len(refs)))
	}
	mp.st.Envelopes++
	return mp.emit(u)
}

// recordPayload builds a record envelope's payload.
func (mp *mapper) recordPayload(s *source, r *record) []byte {
	rec, paths := mp.red.Redact(s.name, r.canon)
	b := mp.buf[:0]
	b = append(b, `{"dg_time":`...)
	if r.hasTime {
		b = append(b, r.time.raw...)
	} else {
		b = append(b, mp.rp.Manifest.generatedAt.raw...)
	}
	if r.links != nil {
		b = append(b, `,"links":`...)
		b = r.links.appendJSON(b)
	}
	b = mp.tail(b, rec, paths)
	b = append(b, `,"source":{"index":`...)
	b = strconv.AppendInt(b, int64(r.index), 10)
	b = append(b, `,"path":`...)
	b = canonical.AppendString(b, s.path)
	b = append(b, `,"record_sha256":"`...)
	sum := sha256.Sum256([]byte(r.canon))
	b = hex.AppendEncode(b, sum[:])
	b = append(b, `"}}`...)
	mp.buf = b
	return b
}

// tail writes ,"mapping_version",…,"record",…,"redactions",…,"runpack".
func (mp *mapper) tail(b, rec []byte, paths []string) []byte {
	b = append(b, `,"mapping_version":"`+MappingVersion+`","record":`...)
	b = append(b, rec...)
	b = appendRedactions(b, paths)
	b = append(b, `,"runpack":`...)
	return append(b, mp.runpackJSON...)
}

func appendRedactions(b []byte, paths []string) []byte {
	return redact.AppendList(append(b, `,"redactions":`...), paths)
}

// runpackPayload builds the dg.runpack payload: the manifest's metadata
// (every member but artifacts and integrity, plus root_hash) and the
// integrity status.
func (mp *mapper) runpackPayload() []byte {
	m := mp.rp.Manifest
	meta, paths := mp.red.Redact("manifest", string(m.meta))
	status := "verified"
	if !mp.rp.Verified() {
		status = "anomaly"
	}
	b := mp.buf[:0]
	b = append(b, `{"dg_time":`...)
	b = append(b, m.generatedAt.raw...)
	b = append(b, `,"integrity_status":"`...)
	b = append(b, status...)
	b = append(b, `","manifest":`...)
	b = append(b, meta...)
	b = append(b, `,"mapping_version":"`+MappingVersion+`"`...)
	b = appendRedactions(b, paths)
	b = append(b, `,"runpack":`...)
	b = append(b, mp.runpackJSON...)
	b = append(b, `,"source":{"index":0,"path":"`+ManifestPath+`","record_sha256":"`...)
	sum := sha256.Sum256(m.canon)
	b = hex.AppendEncode(b, sum[:])
	b = append(b, `"}}`...)
	mp.buf = b
	return b
}

// anomalyPayload builds the dg.runpack.integrity_anomaly payload: every
// failed check, undecodable artifacts as "decode" checks, and the mapped
// artifacts skipped.
func (mp *mapper) anomalyPayload() []byte {
	rp := mp.rp
	b := mp.buf[:0]
	b = append(b, `{"checks":[`...)
	for i, c := range listed(rp.anomalies()) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"actual":`...)
		b = canonical.AppendString(b, c.Actual)
		b = append(b, `,"check":`...)
		b = canonical.AppendString(b, c.Check)
		b = append(b, `,"expected":`...)
		b = canonical.AppendString(b, c.Expected)
		b = append(b, `,"path":`...)
		b = canonical.AppendString(b, c.Path)
		b = append(b, '}')
	}
	b = append(b, `],"dg_time":`...)
	b = append(b, rp.Manifest.generatedAt.raw...)
	b = append(b, `,"mapping_version":"`+MappingVersion+`","runpack":`...)
	b = append(b, mp.runpackJSON...)
	b = append(b, `,"skipped":[`...)
	for i, p := range rp.skipped {
		if i > 0 {
			b = append(b, ',')
		}
		b = canonical.AppendString(b, p)
	}
	b = append(b, `],"source":{"index":0,"path":"`+IntegrityPath+`","record_sha256":null}}`...)
	mp.buf = b
	return b
}

// anomalies returns the failed checks followed by one decode check per
// undecodable artifact.
func (rp *Runpack) anomalies() []Check {
	out := append([]Check(nil), rp.checks...)
	for _, err := range rp.decodeErrs {
		c := Check{Check: CheckDecode, Expected: "a decodable artifact", Actual: err.Error()}
		if e, ok := errcode.As(err); ok {
			c.Path = e.Path
			e2 := *e
			e2.Path = ""
			c.Actual = e2.Error()
		}
		out = append(out, c)
	}
	return out
}
