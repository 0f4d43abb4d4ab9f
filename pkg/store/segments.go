package store

import (
	"context"
	"crypto/sha256"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
)

// ReceiptFor returns the receipt of a sealed envelope: what the store
// acknowledges once the envelope is durable.
func ReceiptFor(e *evidence.Envelope) Receipt {
	return Receipt{SegmentID: e.SegmentID, Sequence: e.Sequence, EnvelopeID: e.EnvelopeID, ChainHash: e.ChainHash}
}

// AppendJSON appends the segment's canonical JSON object, the form of
// arxi-append segment list --json and of the sidecar's segment routes:
// {"created_at","envelope_count","genesis_hash","head_chain_hash",
// "predecessor_segment_id","record":"segment","recorder_id","seal_reason",
// "sealed_at","segment_id","state":"open"|"sealed"}.
func (g *Segment) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"created_at":"`...)
	dst = g.Genesis.CreatedAt.Append(dst)
	dst = append(dst, `","envelope_count":`...)
	dst = strconv.AppendUint(dst, g.Count, 10)
	dst = append(dst, `,"genesis_hash":"`...)
	dst = g.Genesis.GenesisHash.Append(dst)
	dst = append(dst, `","head_chain_hash":"`...)
	dst = g.Head.Append(dst)
	dst = append(dst, `","predecessor_segment_id":`...)
	if p := g.Genesis.Predecessor; p != nil {
		dst = append(dst, '"')
		dst = p.SegmentID.Append(dst)
		dst = append(dst, '"')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"record":"segment","recorder_id":`...)
	dst = canonical.AppendString(dst, g.Genesis.RecorderID.String())
	if g.Seal != nil {
		dst = append(dst, `,"seal_reason":"`...)
		dst = append(dst, g.Seal.Reason...)
		dst = append(dst, `","sealed_at":"`...)
		dst = g.Seal.SealedAt.Append(dst)
		dst = append(dst, '"')
	} else {
		dst = append(dst, `,"seal_reason":null,"sealed_at":null`...)
	}
	dst = append(dst, `,"segment_id":"`...)
	dst = g.ID().Append(dst)
	if k := g.Signer; k != nil {
		dst = append(dst, `","signing_epoch":`...)
		dst = strconv.AppendInt(dst, k.Epoch, 10)
		dst = append(dst, `,"signing_key_id":"`...)
		dst = k.Key.KeyID.Append(dst)
	}
	dst = append(dst, `","state":"`...)
	if g.Seal != nil {
		dst = append(dst, "sealed"...)
	} else {
		dst = append(dst, "open"...)
	}
	return append(dst, `"}`...)
}

// AppendJSON appends the page as one canonical JSON object,
// {"envelopes":[…],"next_cursor":…} (null when there is no next page): the
// form of arxi-query --format json and of the sidecar's query route.
func (p *Page) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"envelopes":[`...)
	for i, it := range p.Items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, it.Line...)
	}
	dst = append(dst, `],"next_cursor":`...)
	return appendCursor(dst, p.Next)
}

func appendCursor(dst []byte, next string) []byte {
	if next == "" {
		dst = append(dst, "null"...)
	} else {
		dst = canonical.AppendString(dst, next)
	}
	return append(dst, '}')
}

// SegmentPage is one page of segments in store order.
type SegmentPage struct {
	Segments []*Segment
	// Next is the cursor for the next page, or "" when this page ends the
	// segments that existed when it was read.
	Next string
}

// segmentCursor marks cursors of segment pages, so that a query cursor
// is not taken for one.
var segmentCursor = [8]byte(func() []byte { h := sha256.Sum256([]byte("arxi/v1/segment-page")); return h[:8] }())

// SegmentPage returns up to limit segments in store order after cursor ("" for
// the first page); limit 0 means DefaultPageSize, and more than MaxPageSize
// is usage.invalid. A cursor names a segment's store order, so paging
// while segments are added never repeats or skips one.
func (sn *Snapshot) SegmentPage(ctx context.Context, cursor string, limit int) (*SegmentPage, error) {
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return nil, &errcode.Error{Code: errcode.UsageInvalid, Field: "limit", Msg: "limit " + strconv.Itoa(limit) + ": want 1 to " + strconv.Itoa(MaxPageSize)}
	}
	from := int64(1)
	if cursor != "" {
		c, err := ParseCursor(cursor)
		if err != nil {
			return nil, err
		}
		if c.Filter != segmentCursor || c.Position > 1<<62 {
			return nil, &errcode.Error{Code: errcode.UsageInvalid, Field: "cursor", Msg: "not a cursor of a segment page",
				Hint: "pass the next_cursor value of the previous page unchanged"}
		}
		from = int64(c.Position) + 1
	}
	page := &SegmentPage{}
	more := false
	err := sn.v.Segments(ctx, from, func(row *SegmentRow) error {
		if len(page.Segments) == limit {
			more = true
			return ErrStop
		}
		g, err := sn.segment(row)
		if err != nil {
			return err
		}
		page.Segments = append(page.Segments, g)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if more {
		page.Next = Cursor{Position: uint64(page.Segments[len(page.Segments)-1].Order), Filter: segmentCursor}.String()
	}
	return page, nil
}

// AppendJSON appends the page as {"segments":[…],"next_cursor":…}.
func (p *SegmentPage) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"next_cursor":`...)
	if p.Next == "" {
		dst = append(dst, "null"...)
	} else {
		dst = canonical.AppendString(dst, p.Next)
	}
	dst = append(dst, `,"segments":[`...)
	for i, g := range p.Segments {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = g.AppendJSON(dst)
	}
	return append(dst, "]}"...)
}
