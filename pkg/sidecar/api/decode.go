package api

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/jsonobj"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/stream"
)

// The request decoders. Every body is untrusted: it is canonicalised
// first (SPEC §3: strict JSON, no duplicate keys, bounded depth, exact
// numbers), then decoded strictly, unknown keys refused, and the evidence
// in it goes through the same decoder as arxi-seal's input
// (evidence.Decoder). Errors are *errcode.Error values naming the field or
// line.

// canon canonicalises a JSON body whose records sit depth levels below
// the top (the payload's own limit of 64 levels is then kept).
func canon(body []byte, depth int) ([]byte, error) {
	c := canonical.Canonicalizer{MaxDepth: canonical.DefaultMaxDepth + depth}
	return c.Append(nil, body)
}

// decodeUnsealed decodes one unsealed envelope (SPEC §4.1) in one pass:
// the evidence decoder canonicalises the body (with the one level of
// nesting a record adds to its payload's) and reads the record from the
// members that pass found. The record's strings share a new buffer, not
// d's scratch memory, so d may decode the next body at once.
func decodeUnsealed(d *evidence.Decoder, body []byte) (*evidence.Unsealed, error) {
	// The canonical form is rarely longer than the body: room for a few
	// escapes it spells out and numbers it writes longer.
	rec, _, err := d.Unsealed(make([]byte, 0, len(body)+len(body)/16+64), body)
	if err != nil {
		return nil, err
	}
	u, ok := rec.(*evidence.Unsealed)
	if !ok {
		return nil, &errcode.Error{Code: errcode.InputUnexpectedRecord, Field: "record", Msg: rec.Kind().String() + " record where an unsealed envelope belongs"}
	}
	return u, nil
}

// fields is the style of request bodies: the codes and paths of record
// fields (input.unknown_field, input.missing_field, input.field_invalid).
var fields = &jsonobj.Style{}

// object canonicalises a body and returns its top-level object.
func object(body []byte, depth int) (jsonobj.Object, error) {
	c, err := canon(body, depth)
	if err != nil {
		return jsonobj.Object{}, err
	}
	return fields.Object(jsonobj.Value{Raw: string(c)})
}

// decodeWithAttachments decodes {"envelope":{…},"attachments":[{"content_type","data"}]}:
// the envelope with the attachments given beside it, as inline
// attachments of the envelope.
func decodeWithAttachments(d *evidence.Decoder, body []byte) (*evidence.Unsealed, error) {
	o, err := object(body, 2)
	if err != nil {
		return nil, err
	}
	if err := o.Only(withAttachmentsKeys...); err != nil {
		return nil, err
	}
	env, err := o.Object("envelope")
	if err != nil {
		return nil, err
	}
	if env.Has("attachments") {
		return nil, env.Errorf("attachments", `give attachments in the top-level "attachments" member`)
	}
	merged := o.Get("envelope").Raw
	if o.Has("attachments") {
		list, err := o.Array("attachments")
		if err != nil {
			return nil, err
		}
		if err := list.Each(func(i int, v jsonobj.Value) error {
			a, err := list.Object(i, v)
			if err != nil {
				return err
			}
			return a.Only(inlineKeys...)
		}); err != nil {
			return nil, err
		}
		rest := strings.TrimPrefix(merged, "{")
		if rest != "}" {
			rest = "," + rest
		}
		merged = `{"attachments":` + o.Get("attachments").Raw + rest
	}
	u, err := decodeUnsealed(d, []byte(merged))
	if e, ok := errcode.As(err); ok && e.Field != "" && !strings.HasPrefix(e.Field, "attachments") {
		return nil, errcode.InField(err, "envelope")
	}
	return u, err
}

// decodeBatch decodes an NDJSON batch: unsealed envelopes and attachment
// records, one per line, as arxi-seal reads them. It returns the records
// and their line numbers.
func decodeBatch(body []byte, lim evidence.Limits) ([]evidence.Record, []int64, error) {
	in := stream.NewReader(bytes.NewReader(body), stream.Unsealed, lim)
	var recs []evidence.Record
	var lines []int64
	envelopes, lastEnvelope := 0, int64(0)
	for {
		rec, err := in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, rec)
		lines = append(lines, in.Line())
		if rec.Kind() == evidence.KindUnsealed {
			envelopes++
			lastEnvelope = in.Line()
		}
	}
	switch {
	case envelopes == 0:
		return nil, nil, errcode.New(errcode.InputMissingField, "the batch holds no envelope")
	case lastEnvelope < in.Line():
		return nil, nil, &errcode.Error{Code: errcode.InputUnexpectedRecord, Line: lastEnvelope + 1,
			Msg: "attachment record after the batch's last envelope; an attachment record comes before the envelope that references it"}
	}
	return recs, lines, nil
}

// decodeEmpty decodes a body that must be {} (opening a segment).
func decodeEmpty(body []byte) error {
	o, err := object(body, 1)
	if err != nil {
		return err
	}
	return o.Only()
}

// decodeSeal decodes {"reason":"manual"} or {}.
func decodeSeal(body []byte) error {
	o, err := object(body, 1)
	if err != nil {
		return err
	}
	if err := o.Only(sealKeys...); err != nil || !o.Has("reason") {
		return err
	}
	r, err := o.String("reason")
	if err == nil && r != string(evidence.SealManual) {
		err = o.Errorf("reason", `a segment is sealed by hand with reason "manual"`)
	}
	return err
}

// decodeQuery decodes a query: the filter of SPEC §8 (fields as
// arxi-query's flags, AND-combined; event_types matches any), the limit
// (1 to 10000, default 1000) and the cursor.
func decodeQuery(body []byte) (f store.Filter, cursor string, limit int, err error) {
	o, err := object(body, 1)
	if err != nil {
		return f, "", 0, err
	}
	if err := o.Only(queryKeys...); err != nil {
		return f, "", 0, err
	}
	limit = store.DefaultPageSize
	if o.Has("limit") {
		n, err := o.Int("limit")
		if err != nil {
			return f, "", 0, err
		}
		if n < 1 || n > store.MaxPageSize {
			return f, "", 0, o.Errorf("limit", "must be 1 to %d", store.MaxPageSize)
		}
		limit = int(n)
	}
	if o.Has("cursor") {
		if cursor, err = o.String("cursor"); err != nil {
			return f, "", 0, err
		}
	}
	in, ok, err := o.OptObject("filter")
	if err != nil || !ok {
		return f, cursor, limit, err
	}
	if err := in.Only(filterKeys...); err != nil {
		return f, "", 0, err
	}
	if in.Has("segment_id") {
		if f.SegmentID, err = in.UUID("segment_id"); err != nil {
			return f, "", 0, err
		}
	}
	if in.Has("event_types") {
		list, err := in.Array("event_types")
		if err != nil {
			return f, "", 0, err
		}
		if err := list.Each(func(i int, v jsonobj.Value) error {
			s, err := list.String(i, v)
			if err != nil {
				return err
			}
			tok, err := scalar.ParseToken(s)
			if err != nil {
				return list.Invalid(i, err)
			}
			f.EventTypes = append(f.EventTypes, tok)
			return nil
		}); err != nil {
			return f, "", 0, err
		}
	}
	for _, l := range []struct {
		key string
		dst *scalar.Label
	}{{"actor_id", &f.ActorID}, {"environment_id", &f.EnvironmentID}, {"trace_id", &f.TraceID}, {"session_id", &f.SessionID}} {
		if in.Has(l.key) {
			if *l.dst, err = in.Label(l.key); err != nil {
				return f, "", 0, err
			}
		}
	}
	if in.Has("adapter_id") {
		if f.AdapterID, err = in.Token("adapter_id"); err != nil {
			return f, "", 0, err
		}
	}
	for _, t := range []struct {
		key string
		dst **scalar.Timestamp
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if in.Has(t.key) {
			ts, err := in.Timestamp(t.key)
			if err != nil {
				return f, "", 0, err
			}
			*t.dst = &ts
		}
	}
	if in.Has("after_sequence") {
		if f.AfterSequence, err = in.Uint("after_sequence"); err != nil {
			return f, "", 0, err
		}
	}
	if err := f.Check(); err != nil {
		e, _ := errcode.As(err)
		return f, "", 0, &errcode.Error{Code: errcode.InputFieldInvalid, Field: "filter", Msg: strings.ReplaceAll(strings.ReplaceAll(e.Msg, "--after-sequence", "after_sequence"), "--segment", "segment_id")}
	}
	return f, cursor, limit, nil
}

// decodeBuild decodes {"selector":{…}}: the selector of SPEC §9.2 in the
// form the manifest records.
func decodeBuild(body []byte) (bundle.Selector, error) {
	o, err := object(body, 1)
	if err != nil {
		return bundle.Selector{}, err
	}
	if err := o.Only(buildKeys...); err != nil {
		return bundle.Selector{}, err
	}
	if err := o.Require("selector"); err != nil {
		return bundle.Selector{}, err
	}
	sel, err := bundle.DecodeSelector([]byte(o.Get("selector").Raw))
	if err != nil {
		return sel, err
	}
	if sel.Stream {
		return sel, &errcode.Error{Code: errcode.InputFieldInvalid, Field: "selector.stream", Msg: "a store bundle has no stream selector"}
	}
	return sel, nil
}

// pageParams reads ?limit and ?cursor of a list route.
func pageParams(c *Call) (string, int, error) {
	q := c.Request.URL.Query()
	limit := 0
	if s := q.Get("limit"); q.Has("limit") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxPageSize {
			return "", 0, &errcode.Error{Code: errcode.InputFieldInvalid, Field: "limit", Msg: "must be an integer 1 to " + strconv.Itoa(store.MaxPageSize)}
		}
		limit = n
	}
	return q.Get("cursor"), limit, nil
}
