package dg

import (
	"fmt"
	"strconv"
	"time"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/jsonobj"
	"arxi.dev/arxi/pkg/scalar"
)

// decoder decodes the values of one DG file strictly, through
// pkg/jsonobj; its errors are dg.malformed and name the file and the JSON
// path ("$[3].event.time").
type decoder struct {
	st *jsonobj.Style
}

func newDecoder(file string) decoder {
	return decoder{st: &jsonobj.Style{Root: "$", File: file, Code: errcode.DGMalformed, Document: true}}
}

func (d decoder) errf(field, format string, args ...any) error {
	return &errcode.Error{Code: errcode.DGMalformed, Path: d.st.File, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// parse validates raw as strict JSON (SPEC §3: no duplicate keys, no
// integers beyond ±2^53, valid UTF-8, at most maxDepth levels) and returns
// its canonical form.
func (d decoder) parse(c *canonical.Canonicalizer, raw []byte) ([]byte, error) {
	c.MaxDepth = maxDepth
	canon, err := c.Append(nil, raw)
	if err != nil {
		e, ok := errcode.As(err)
		if !ok {
			return nil, &errcode.Error{Code: errcode.DGMalformed, Path: d.st.File, Msg: "invalid JSON", Err: err}
		}
		return nil, &errcode.Error{Code: errcode.DGMalformed, Path: d.st.File, Msg: "invalid JSON: " + string(e.Code) + ": " + e.Msg}
	}
	return canon, nil
}

// Timestamp kinds (DG's core::time::Timestamp, serde tag "kind").
const (
	kindLogical    = "logical"
	kindUnixMillis = "unix_millis"
)

// dgTime is a decoded DG Timestamp: {"kind":"logical","value":u64} or
// {"kind":"unix_millis","value":i64}.
type dgTime struct {
	logical bool
	value   int64  // unix_millis value, or logical value (≤ 2^53)
	raw     string // canonical JSON of the Timestamp object
	file    string // where it was read, for errors found when mapping it
	field   string
}

// timeOf decodes o.key as a DG Timestamp.
func timeOf(o *jsonobj.Object, key string) (dgTime, error) {
	v, err := o.Object(key)
	if err != nil {
		return dgTime{}, err
	}
	if err := v.Only("kind", "value"); err != nil {
		return dgTime{}, err
	}
	kind, err := v.String("kind")
	if err != nil {
		return dgTime{}, err
	}
	t := dgTime{file: o.Style().File, field: v.Path()}
	switch kind {
	case kindLogical:
		t.logical = true
		n, err := v.Uint("value")
		if err != nil {
			return dgTime{}, err
		}
		t.value = int64(n)
	case kindUnixMillis:
		if t.value, err = v.Int("value"); err != nil {
			return dgTime{}, err
		}
	default:
		return dgTime{}, v.Errorf("kind", "unknown Timestamp kind %s: want logical or unix_millis", abbrev(v.Get("kind").Raw))
	}
	// The canonical form of the object, whatever the file's formatting.
	b := append([]byte(`{"kind":"`), kind...)
	b = append(b, `","value":`...)
	b = strconv.AppendInt(b, t.value, 10)
	t.raw = string(append(b, '}'))
	return t, nil
}

// maxMillis is 9999-12-31T23:59:59.999Z, the last instant of SPEC §2.
const maxMillis = 253402300799999

// instant maps a DG time to claimed_at: unix_millis is that instant,
// logical n is epoch plus n milliseconds.
func (t dgTime) instant(epoch scalar.Timestamp) (scalar.Timestamp, error) {
	bad := func(why string) (scalar.Timestamp, error) {
		return scalar.Timestamp{}, &errcode.Error{Code: errcode.DGMalformed, Path: t.file, Field: t.field, Msg: why}
	}
	if !t.logical {
		if t.value < 0 || t.value > maxMillis {
			return bad(fmt.Sprintf("unix_millis %d is outside the range Arxi records (1970-01-01 to 9999-12-31)", t.value))
		}
		return scalar.UnixMilliTimestamp(t.value)
	}
	base := epoch.UnixMilli()
	if t.value > maxMillis-base {
		return bad(fmt.Sprintf("logical time %d from the logical epoch %s is after 9999-12-31", t.value, epoch))
	}
	sub := epoch.Time().Sub(time.UnixMilli(base)) // the epoch's sub-millisecond part
	ts, err := scalar.TimestampOf(time.UnixMilli(base + t.value).Add(sub))
	if err != nil {
		return bad(err.Error())
	}
	return ts, nil
}

// digest decodes o.key as a DG HashDigest {"algorithm":"sha256","value":hex}.
func digest(o *jsonobj.Object, key string) (scalar.Digest, error) {
	v, err := o.Object(key)
	if err != nil {
		return scalar.Digest{}, err
	}
	if err := v.Only("algorithm", "value"); err != nil {
		return scalar.Digest{}, err
	}
	alg, err := v.String("algorithm")
	if err != nil {
		return scalar.Digest{}, err
	}
	if alg != "sha256" {
		return scalar.Digest{}, v.Errorf("algorithm", "unsupported hash algorithm %s: want sha256", abbrev(strconv.Quote(alg)))
	}
	hexval, err := v.String("value")
	if err != nil {
		return scalar.Digest{}, err
	}
	dg, err := scalar.ParseHexDigest(hexval)
	if err != nil {
		return scalar.Digest{}, v.Errorf("value", "want 64 lowercase hex digits")
	}
	return dg, nil
}

// label decodes o.key as a string that is also a valid Arxi label
// (trace_id and session_id come from DG identifiers).
func label(o *jsonobj.Object, key string) (scalar.Label, error) {
	s, err := o.String(key)
	if err != nil {
		return scalar.Label{}, err
	}
	l, err := scalar.ParseLabel(s)
	if err != nil {
		msg := err.Error()
		if e, ok := errcode.As(err); ok {
			msg = e.Msg
		}
		return scalar.Label{}, o.Errorf(key, "cannot be an Arxi identifier: %s", msg)
	}
	return l, nil
}

// abbrev shortens s for an error message.
func abbrev(s string) string { return errcode.Abbrev(s, 64) }

// index renders "$[i]" or base+"[i]".
func index(base string, i int) string { return base + "[" + strconv.Itoa(i) + "]" }
