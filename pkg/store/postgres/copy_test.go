package postgres

import (
	"bytes"
	"encoding/binary"
	"testing"

	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestAppendCopyRow: the binary COPY tuple of an envelope row is what
// pgx's own encoders write for the columns' types, field by field, for
// rows with and without the nullable columns, before and after the
// year 2000 (PostgreSQL's epoch).
func TestAppendCopyRow(t *testing.T) {
	m := pgtype.NewMap()
	oids := []uint32{pgtype.Int4OID, pgtype.Int8OID, pgtype.Int8OID, pgtype.UUIDOID, pgtype.ByteaOID, pgtype.ByteaOID,
		pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID,
		pgtype.TimestamptzOID, pgtype.Int2OID, pgtype.ByteaOID, pgtype.ByteaOID, pgtype.ByteaOID}
	for _, tc := range []struct {
		at                   string
		trace, session       string
		attachments, signers []byte
	}{
		{"2026-11-22T10:00:00.123456789Z", "trace-1", "sess-1", []byte(`[{"hash":"…"}]`), bytes.Repeat([]byte{7}, 96)},
		{"1999-12-31T23:59:59.999999001Z", "", "", nil, nil},
		{"2000-01-01T00:00:00Z", "t", "", nil, bytes.Repeat([]byte{1}, 192)},
	} {
		at, err := scalar.ParseTimestamp(tc.at)
		if err != nil {
			t.Fatal(err)
		}
		r := store.EnvelopeRow{Position: 1 << 40, Segment: 3, EnvelopeID: scalar.UUID{1, 2, 3, 15: 16}, ContentHash: scalar.Digest{4},
			ChainHash: scalar.Digest{31: 5}, EventType: "tool.call", ActorID: "agent:é", EnvironmentID: "prod", AdapterID: "mcp",
			TraceID: tc.trace, SessionID: tc.session, ClaimedAt: at, Payload: []byte(`{"i":1}`), Attachments: tc.attachments, Signatures: tc.signers}
		tm, ns := splitTime(r.ClaimedAt)
		var trace, session any
		if r.TraceID != "" {
			trace = r.TraceID
		}
		if r.SessionID != "" {
			session = r.SessionID
		}
		vals := []any{int32(7), int64(r.Position), r.Segment, pgtype.UUID{Bytes: r.EnvelopeID, Valid: true}, r.ContentHash[:], r.ChainHash[:],
			r.EventType, r.ActorID, r.EnvironmentID, r.AdapterID, trace, session, tm, ns, r.Payload, nullable(r.Attachments), nullable(r.Signatures)}
		want := binary.BigEndian.AppendUint16(nil, uint16(len(vals)))
		for i, v := range vals {
			start := len(want)
			want = append(want, 0, 0, 0, 0)
			enc, err := m.Encode(oids[i], pgtype.BinaryFormatCode, v, want)
			if err != nil {
				t.Fatal(err)
			}
			if enc == nil {
				binary.BigEndian.PutUint32(want[start:], 0xffffffff)
				continue
			}
			want = enc
			binary.BigEndian.PutUint32(want[start:], uint32(len(want)-start-4))
		}
		if got := appendCopyRow(nil, 7, &r); !bytes.Equal(got, want) {
			t.Errorf("claimed at %s: tuple\n%x\nwant\n%x", tc.at, got, want)
		}
	}
}
