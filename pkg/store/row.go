package store

import (
	"unsafe"

	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// A store keeps an envelope's values, each once (SPEC §8: store what the
// reads need once), and writes the envelope's line from them when it reads
// the row back: a sealed line is exactly the normal form of its record, so
// the line written is byte for byte the line appended. The row is checked
// as it is read: every value through its constructor, the payload as
// canonical JSON, the content hash recomputed.

// signatureSize is the stored size of one signature: key id and value.
const signatureSize = 32 + 64

// Set fills r with the values of e, stored at position pos of the segment
// with the given order. The slices of r share e's payload and buf, which
// is returned grown.
func (r *EnvelopeRow) Set(e *evidence.Envelope, pos uint64, order int64, buf []byte) []byte {
	c := &e.Content
	*r = EnvelopeRow{
		Position:      pos,
		Segment:       order,
		EnvelopeID:    c.EnvelopeID,
		ContentHash:   e.ContentHash,
		ChainHash:     e.ChainHash,
		EventType:     c.EventType.String(),
		ActorID:       c.ActorID.String(),
		EnvironmentID: c.EnvironmentID.String(),
		AdapterID:     c.AdapterID.String(),
		TraceID:       c.TraceID.String(),
		SessionID:     c.SessionID.String(),
		ClaimedAt:     c.ClaimedAt,
		Payload:       unsafe.Slice(unsafe.StringData(c.Payload), len(c.Payload)),
	}
	buf = buf[:0]
	if len(c.Attachments) > 0 {
		buf = evidence.AppendAttachments(buf, c.Attachments)
	}
	n := len(buf)
	for _, s := range e.Signatures {
		buf = append(buf, s.KeyID[:]...)
		buf = append(buf, s.Value[:]...)
	}
	if n > 0 {
		r.Attachments = buf[:n:n]
	}
	if len(buf) > n {
		r.Signatures = buf[n:]
	}
	return buf
}

// rowEnvelope reads an envelope row's values back into e, the envelope of
// sequence seq of segment seg. bad reports a value that is not valid; the
// content hash is not checked here. With shared, the payload shares the
// row's memory (see checker.appendEnvelope).
func (c *checker) rowEnvelope(e *evidence.Envelope, row *EnvelopeRow, seg scalar.UUID, seq uint64, shared bool, bad func(format string, args ...any) error) error {
	*e = evidence.Envelope{SegmentID: seg, Sequence: seq, ContentHash: row.ContentHash, ChainHash: row.ChainHash}
	ct := &e.Content
	ct.EnvelopeID, ct.ClaimedAt = row.EnvelopeID, row.ClaimedAt
	var err error
	for _, f := range []struct {
		col string
		val string
		opt bool
		dst *scalar.Label
	}{{"actor_id", row.ActorID, false, &ct.ActorID}, {"environment_id", row.EnvironmentID, false, &ct.EnvironmentID},
		{"trace_id", row.TraceID, true, &ct.TraceID}, {"session_id", row.SessionID, true, &ct.SessionID}} {
		if f.opt && f.val == "" {
			continue
		}
		if *f.dst, err = scalar.ParseLabel(f.val); err != nil {
			return bad("column %s: %v", f.col, err)
		}
	}
	if ct.EventType, err = scalar.ParseToken(row.EventType); err != nil {
		return bad("column event_type: %v", err)
	}
	if ct.AdapterID, err = scalar.ParseToken(row.AdapterID); err != nil {
		return bad("column adapter_id: %v", err)
	}
	if len(row.Payload) > c.lim.Payload {
		return bad("column payload: %d bytes exceed the payload limit", len(row.Payload))
	}
	if ok, err := c.payload.Check(row.Payload); err != nil || !ok {
		return bad("column payload: not canonical JSON")
	}
	if shared {
		ct.Payload = unsafe.String(unsafe.SliceData(row.Payload), len(row.Payload))
	} else {
		ct.Payload = string(row.Payload)
	}
	if row.Attachments != nil {
		if ct.Attachments, err = evidence.DecodeAttachments(string(row.Attachments), c.lim); err != nil {
			return bad("column attachments: %v", err)
		}
	}
	if n := len(row.Signatures); n > 0 {
		if n%signatureSize != 0 || n/signatureSize > evidence.MaxSignatures {
			return bad("column signatures: %d bytes", n)
		}
		e.Signatures = make([]evidence.Signature, n/signatureSize)
		for i := range e.Signatures {
			b := row.Signatures[i*signatureSize:]
			copy(e.Signatures[i].KeyID[:], b[:32])
			copy(e.Signatures[i].Value[:], b[32:signatureSize])
			if i > 0 && e.Signatures[i-1].KeyID.Compare(e.Signatures[i].KeyID) >= 0 {
				return bad("column signatures: not sorted by key id, one per key")
			}
		}
	}
	return nil
}
