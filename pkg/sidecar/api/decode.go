package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/stream"
	"github.com/tidwall/gjson"
)

// The request decoders. Every body is untrusted: it is canonicalised
// first (SPEC §3: strict JSON, no duplicate keys, bounded depth, exact
// numbers), then decoded strictly, unknown keys refused, and the evidence
// in it goes through the same decoder as arxi-seal's input
// (evidence.Decode). Errors are *errcode.Error values naming the field or
// line.

// canon canonicalises a JSON body whose records sit depth levels below
// the top (the payload's own limit of 64 levels is then kept).
func canon(body []byte, depth int) ([]byte, error) {
	c := canonical.Canonicalizer{MaxDepth: canonical.DefaultMaxDepth + depth}
	return c.Append(nil, body)
}

// decodeUnsealed decodes one unsealed envelope (SPEC §4.1).
func decodeUnsealed(body []byte, lim evidence.Limits) (*evidence.Unsealed, error) {
	c, err := canon(body, 1)
	if err != nil {
		return nil, err
	}
	return unsealedOf(c, lim)
}

func unsealedOf(c []byte, lim evidence.Limits) (*evidence.Unsealed, error) {
	rec, err := evidence.Decode(string(c), lim)
	if err != nil {
		return nil, err
	}
	u, ok := rec.(*evidence.Unsealed)
	if !ok {
		return nil, &errcode.Error{Code: errcode.InputUnexpectedRecord, Field: "record", Msg: rec.Kind().String() + " record where an unsealed envelope belongs"}
	}
	return u, nil
}

// decodeWithAttachments decodes {"envelope":{…},"attachments":[{"content_type","data"}]}:
// the envelope with the attachments given beside it, as inline
// attachments of the envelope.
func decodeWithAttachments(body []byte, lim evidence.Limits) (*evidence.Unsealed, error) {
	c, err := canon(body, 2)
	if err != nil {
		return nil, err
	}
	root := gjson.ParseBytes(c)
	if !root.IsObject() {
		return nil, errcode.New(errcode.InputMalformedJSON, "the body must be a JSON object")
	}
	var env, atts gjson.Result
	var ferr error
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "envelope":
			env = v
		case "attachments":
			atts = v
		default:
			ferr = &errcode.Error{Code: errcode.InputUnknownField, Field: k.Str, Msg: `unknown field; the body has "envelope" and "attachments"`}
			return false
		}
		return true
	})
	switch {
	case ferr != nil:
		return nil, ferr
	case !env.Exists():
		return nil, &errcode.Error{Code: errcode.InputMissingField, Field: "envelope", Msg: "required field is missing"}
	case !env.IsObject():
		return nil, &errcode.Error{Code: errcode.InputFieldInvalid, Field: "envelope", Msg: "must be an object"}
	case env.Get("attachments").Exists():
		return nil, &errcode.Error{Code: errcode.InputFieldInvalid, Field: "envelope.attachments", Msg: `give attachments in the top-level "attachments" member`}
	}
	merged := env.Raw
	if atts.Exists() {
		if !atts.IsArray() {
			return nil, &errcode.Error{Code: errcode.InputFieldInvalid, Field: "attachments", Msg: "must be an array"}
		}
		i := 0
		atts.ForEach(func(_, a gjson.Result) bool {
			at := "attachments[" + strconv.Itoa(i) + "]"
			i++
			if !a.IsObject() {
				ferr = &errcode.Error{Code: errcode.InputFieldInvalid, Field: at, Msg: `must be an object {"content_type","data"}`}
				return false
			}
			a.ForEach(func(k, _ gjson.Result) bool {
				if k.Str != "content_type" && k.Str != "data" {
					ferr = &errcode.Error{Code: errcode.InputUnknownField, Field: at + "." + k.Str, Msg: `an attachment here is {"content_type","data"}`}
					return false
				}
				return true
			})
			return ferr == nil
		})
		if ferr != nil {
			return nil, ferr
		}
		rest := strings.TrimPrefix(env.Raw, "{")
		if rest != "}" {
			rest = "," + rest
		}
		merged = `{"attachments":` + atts.Raw + rest
	}
	u, err := unsealedOf([]byte(merged), lim)
	if e, ok := errcode.As(err); ok && e.Field != "" && !strings.HasPrefix(e.Field, "attachments") {
		e.Field = "envelope." + e.Field
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

// decodeObject decodes a canonicalised JSON object strictly into v:
// unknown keys are input.unknown_field, wrong types input.field_invalid,
// naming prefix+field.
func decodeObject(body []byte, v any, prefix string) error {
	c, err := canon(body, 1)
	if err != nil {
		return err
	}
	if len(c) == 0 || c[0] != '{' {
		return &errcode.Error{Code: errcode.InputMalformedJSON, Field: strings.TrimSuffix(prefix, "."), Msg: "must be a JSON object"}
	}
	d := json.NewDecoder(bytes.NewReader(c))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return &errcode.Error{Code: errcode.InputFieldInvalid, Field: prefix + te.Field, Msg: "must be " + jsonType(te.Type.String())}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			return &errcode.Error{Code: errcode.InputUnknownField, Field: prefix + name, Msg: "unknown field"}
		}
		return errcode.Wrap(errcode.InputFieldInvalid, err, "invalid body")
	}
	return nil
}

func jsonType(t string) string {
	switch strings.TrimPrefix(t, "*") {
	case "string":
		return "a string"
	case "int", "uint64":
		return "an integer"
	case "bool":
		return "a boolean"
	}
	if strings.HasPrefix(t, "[]") {
		return "an array"
	}
	return "an object"
}

// decodeEmpty decodes a body that must be {} (opening a segment).
func decodeEmpty(body []byte) error {
	var v struct{}
	return decodeObject(body, &v, "")
}

// decodeSeal decodes {"reason":"manual"} or {}.
func decodeSeal(body []byte) error {
	var v struct {
		Reason *string `json:"reason"`
	}
	if err := decodeObject(body, &v, ""); err != nil {
		return err
	}
	if v.Reason != nil && *v.Reason != string(evidence.SealManual) {
		return &errcode.Error{Code: errcode.InputFieldInvalid, Field: "reason", Msg: `a segment is sealed by hand with reason "manual"`}
	}
	return nil
}

// queryRequest is the body of POST /v1/query/envelopes.
type queryRequest struct {
	Filter json.RawMessage `json:"filter"`
	Limit  *int            `json:"limit"`
	Cursor *string         `json:"cursor"`
}

// queryFilter is a query's filter.
type queryFilter struct {
	SegmentID     *string  `json:"segment_id"`
	EventTypes    []string `json:"event_types"`
	ActorID       *string  `json:"actor_id"`
	EnvironmentID *string  `json:"environment_id"`
	AdapterID     *string  `json:"adapter_id"`
	TraceID       *string  `json:"trace_id"`
	SessionID     *string  `json:"session_id"`
	Since         *string  `json:"since"`
	Until         *string  `json:"until"`
	AfterSequence *uint64  `json:"after_sequence"`
}

// decodeQuery decodes a query: the filter of SPEC §8 (fields as
// arxi-query's flags, AND-combined; event_types matches any), the limit
// (1 to 10000, default 1000) and the cursor.
func decodeQuery(body []byte) (store.Filter, string, int, error) {
	var q queryRequest
	var f store.Filter
	if err := decodeObject(body, &q, ""); err != nil {
		return f, "", 0, err
	}
	limit := store.DefaultPageSize
	if q.Limit != nil {
		limit = *q.Limit
		if limit < 1 || limit > store.MaxPageSize {
			return f, "", 0, &errcode.Error{Code: errcode.InputFieldInvalid, Field: "limit", Msg: "must be 1 to " + strconv.Itoa(store.MaxPageSize)}
		}
	}
	cursor := ""
	if q.Cursor != nil {
		cursor = *q.Cursor
	}
	if q.Filter == nil {
		return f, cursor, limit, nil
	}
	in := &queryFilter{}
	if err := decodeObject(q.Filter, in, "filter."); err != nil {
		return f, "", 0, err
	}
	var err error
	field := func(name string, e error) error { return errcode.InField(e, "filter."+name) }
	if in.SegmentID != nil {
		if f.SegmentID, err = scalar.ParseUUID(*in.SegmentID); err != nil {
			return f, "", 0, field("segment_id", err)
		}
	}
	for i, t := range in.EventTypes {
		tok, err := scalar.ParseToken(t)
		if err != nil {
			return f, "", 0, field("event_types["+strconv.Itoa(i)+"]", err)
		}
		f.EventTypes = append(f.EventTypes, tok)
	}
	for _, l := range []struct {
		name string
		in   *string
		dst  *scalar.Label
	}{{"actor_id", in.ActorID, &f.ActorID}, {"environment_id", in.EnvironmentID, &f.EnvironmentID},
		{"trace_id", in.TraceID, &f.TraceID}, {"session_id", in.SessionID, &f.SessionID}} {
		if l.in == nil {
			continue
		}
		if *l.dst, err = scalar.ParseLabel(*l.in); err != nil {
			return f, "", 0, field(l.name, err)
		}
	}
	if in.AdapterID != nil {
		if f.AdapterID, err = scalar.ParseToken(*in.AdapterID); err != nil {
			return f, "", 0, field("adapter_id", err)
		}
	}
	for _, t := range []struct {
		name string
		in   *string
		dst  **scalar.Timestamp
	}{{"since", in.Since, &f.Since}, {"until", in.Until, &f.Until}} {
		if t.in == nil {
			continue
		}
		ts, err := scalar.ParseTimestamp(*t.in)
		if err != nil {
			return f, "", 0, field(t.name, err)
		}
		*t.dst = &ts
	}
	if in.AfterSequence != nil {
		f.AfterSequence = *in.AfterSequence
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
	var v struct {
		Selector json.RawMessage `json:"selector"`
	}
	if err := decodeObject(body, &v, ""); err != nil {
		return bundle.Selector{}, err
	}
	if v.Selector == nil {
		return bundle.Selector{}, &errcode.Error{Code: errcode.InputMissingField, Field: "selector", Msg: "required field is missing"}
	}
	sel, err := bundle.DecodeSelector(v.Selector)
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
