package dg

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/tidwall/gjson"
)

// decoder decodes the values of one DG file strictly; its errors are
// dg.malformed and name the file and the JSON path ("$[3].event.time").
type decoder struct {
	file string
	m    *members // nil: look members up one by one
}

func (d decoder) errf(field, format string, args ...any) error {
	return &errcode.Error{Code: errcode.DGMalformed, Path: d.file, Field: field, Msg: fmt.Sprintf(format, args...)}
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
			return nil, &errcode.Error{Code: errcode.DGMalformed, Path: d.file, Msg: "invalid JSON", Err: err}
		}
		return nil, &errcode.Error{Code: errcode.DGMalformed, Path: d.file, Msg: "invalid JSON: " + string(e.Code) + ": " + e.Msg}
	}
	return canon, nil
}

// typeName describes a JSON value's type for error messages.
func typeName(v gjson.Result) string {
	switch v.Type {
	case gjson.Null:
		return "null"
	case gjson.False, gjson.True:
		return "a boolean"
	case gjson.Number:
		return "a number"
	case gjson.String:
		return "a string"
	}
	if v.IsArray() {
		return "an array"
	}
	return "an object"
}

// member returns obj's member key; key must not hold gjson path syntax.
func (d decoder) member(obj gjson.Result, key string) gjson.Result {
	if d.m == nil {
		return obj.Get(key)
	}
	return d.m.get(obj, key)
}

// members indexes the members of the last few objects looked up, so that
// decoding a record reads each object once instead of rescanning it for
// every key (gjson's Get scans from the start each time). Objects are known
// by the address and length of their text, which are unique within the one
// file a members serves.
type members struct {
	slots [8]memberSlot
	next  int
}

type memberSlot struct {
	p    *byte
	n    int
	keys []string
	vals []gjson.Result
}

func (m *members) slot(obj gjson.Result) *memberSlot {
	if len(obj.Raw) == 0 || obj.Raw[0] != '{' {
		return nil
	}
	p := unsafe.StringData(obj.Raw)
	for i := range m.slots {
		if s := &m.slots[i]; s.p == p && s.n == len(obj.Raw) {
			return s
		}
	}
	s := &m.slots[m.next]
	m.next = (m.next + 1) % len(m.slots)
	s.p, s.n, s.keys, s.vals = p, len(obj.Raw), s.keys[:0], s.vals[:0]
	obj.ForEach(func(k, v gjson.Result) bool {
		s.keys, s.vals = append(s.keys, k.Str), append(s.vals, v)
		return true
	})
	return s
}

func (m *members) get(obj gjson.Result, key string) gjson.Result {
	s := m.slot(obj)
	if s == nil {
		return gjson.Result{}
	}
	for i, k := range s.keys {
		if k == key {
			return s.vals[i]
		}
	}
	return gjson.Result{}
}

func (d decoder) object(v gjson.Result, field string) error {
	if !v.Exists() {
		return d.errf(field, "missing")
	}
	if !v.IsObject() {
		return d.errf(field, "must be an object, not %s", typeName(v))
	}
	return nil
}

func (d decoder) array(v gjson.Result, field string) error {
	if !v.Exists() {
		return d.errf(field, "missing")
	}
	if !v.IsArray() {
		return d.errf(field, "must be an array, not %s", typeName(v))
	}
	return nil
}

// str decodes obj.key as a string.
func (d decoder) str(obj gjson.Result, key, field string) (string, error) {
	v := d.member(obj, key)
	field += "." + key
	if !v.Exists() {
		return "", d.errf(field, "missing")
	}
	if v.Type != gjson.String {
		return "", d.errf(field, "must be a string, not %s", typeName(v))
	}
	return v.Str, nil
}

// optStr decodes obj.key as a string or null (absent counts as null).
func (d decoder) optStr(obj gjson.Result, key, field string) (string, bool, error) {
	v := d.member(obj, key)
	if !v.Exists() || v.Type == gjson.Null {
		return "", false, nil
	}
	if v.Type != gjson.String {
		return "", false, d.errf(field+"."+key, "must be a string or null, not %s", typeName(v))
	}
	return v.Str, true, nil
}

func (d decoder) boolean(obj gjson.Result, key, field string) (bool, error) {
	v := d.member(obj, key)
	field += "." + key
	if !v.Exists() {
		return false, d.errf(field, "missing")
	}
	if v.Type != gjson.True && v.Type != gjson.False {
		return false, d.errf(field, "must be a boolean, not %s", typeName(v))
	}
	return v.Type == gjson.True, nil
}

// integer checks that v is an integer literal: DG's integers are Rust
// u64/i64, which reject fractions and exponents, so "1.0" is an error here
// even though it is the number 1.
func (d decoder) integer(v gjson.Result, field string, signed bool) error {
	if !v.Exists() {
		return d.errf(field, "missing")
	}
	if v.Type != gjson.Number {
		return d.errf(field, "must be an integer, not %s", typeName(v))
	}
	if strings.ContainsAny(v.Raw, ".eE") {
		return d.errf(field, "must be an integer, not the float %s", abbrev(v.Raw))
	}
	if !signed && v.Raw[0] == '-' {
		return d.errf(field, "must be a non-negative integer, not %s", v.Raw)
	}
	return nil
}

// uint decodes obj.key as an unsigned integer (Rust u64). Strict JSON
// parsing has already bounded it to 2^53.
func (d decoder) uint(obj gjson.Result, key, field string) (uint64, error) {
	v := d.member(obj, key)
	field += "." + key
	if err := d.integer(v, field, false); err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(v.Raw, 10, 64)
	if err != nil {
		return 0, d.errf(field, "not an unsigned integer: %s", abbrev(v.Raw))
	}
	return n, nil
}

// onlyKeys rejects members of obj other than keys.
func (d decoder) onlyKeys(obj gjson.Result, field string, keys ...string) error {
	if d.m != nil {
		if s := d.m.slot(obj); s != nil {
		next:
			for _, k := range s.keys {
				for _, want := range keys {
					if k == want {
						continue next
					}
				}
				return d.errf(field, "unknown key %s", abbrev(strconv.Quote(k)))
			}
			return nil
		}
	}
	var err error
	obj.ForEach(func(k, _ gjson.Result) bool {
		for _, want := range keys {
			if k.Str == want {
				return true
			}
		}
		err = d.errf(field, "unknown key %s", abbrev(k.Raw))
		return false
	})
	return err
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

// time decodes obj.key as a DG Timestamp.
func (d decoder) time(obj gjson.Result, key, field string) (dgTime, error) {
	v := d.member(obj, key)
	field += "." + key
	if err := d.object(v, field); err != nil {
		return dgTime{}, err
	}
	if err := d.onlyKeys(v, field, "kind", "value"); err != nil {
		return dgTime{}, err
	}
	kind, err := d.str(v, "kind", field)
	if err != nil {
		return dgTime{}, err
	}
	t := dgTime{file: d.file, field: field}
	switch kind {
	case kindLogical:
		t.logical = true
		n, err := d.uint(v, "value", field)
		if err != nil {
			return dgTime{}, err
		}
		t.value = int64(n)
	case kindUnixMillis:
		val := d.member(v, "value")
		if err := d.integer(val, field+".value", true); err != nil {
			return dgTime{}, err
		}
		n, err := strconv.ParseInt(val.Raw, 10, 64)
		if err != nil {
			return dgTime{}, d.errf(field+".value", "not an integer: %s", abbrev(val.Raw))
		}
		t.value = n
	default:
		return dgTime{}, d.errf(field+".kind", "unknown Timestamp kind %s: want logical or unix_millis", abbrev(d.member(v, "kind").Raw))
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

// digest decodes obj.key as a DG HashDigest {"algorithm":"sha256","value":hex}.
func (d decoder) digest(obj gjson.Result, key, field string) (scalar.Digest, error) {
	v := d.member(obj, key)
	field += "." + key
	if err := d.object(v, field); err != nil {
		return scalar.Digest{}, err
	}
	if err := d.onlyKeys(v, field, "algorithm", "value"); err != nil {
		return scalar.Digest{}, err
	}
	alg, err := d.str(v, "algorithm", field)
	if err != nil {
		return scalar.Digest{}, err
	}
	if alg != "sha256" {
		return scalar.Digest{}, d.errf(field+".algorithm", "unsupported hash algorithm %s: want sha256", abbrev(strconv.Quote(alg)))
	}
	hexval, err := d.str(v, "value", field)
	if err != nil {
		return scalar.Digest{}, err
	}
	dg, err := scalar.ParseHexDigest(hexval)
	if err != nil {
		return scalar.Digest{}, d.errf(field+".value", "want 64 lowercase hex digits")
	}
	return dg, nil
}

// label decodes obj.key as a string that is also a valid Arxi label
// (trace_id and session_id come from DG identifiers).
func (d decoder) label(obj gjson.Result, key, field string) (scalar.Label, error) {
	s, err := d.str(obj, key, field)
	if err != nil {
		return scalar.Label{}, err
	}
	l, err := scalar.ParseLabel(s)
	if err != nil {
		msg := err.Error()
		if e, ok := errcode.As(err); ok {
			msg = e.Msg
		}
		return scalar.Label{}, d.errf(field+"."+key, "cannot be an Arxi identifier: %s", msg)
	}
	return l, nil
}

// abbrev shortens s for an error message.
func abbrev(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// index renders "$[i]" or base+"[i]".
func index(base string, i int) string { return base + "[" + strconv.Itoa(i) + "]" }
