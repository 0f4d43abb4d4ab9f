// Package jsonobj decodes strict JSON objects against the keys a record or
// document defines. It is the one place where Arxi refuses unknown keys,
// reports missing ones, checks JSON types and turns member values into
// scalars through their constructors (pkg/scalar), with every error naming
// the path of the value.
//
// # Values and objects
//
// jsonobj reads JSON text that is already known to be strict JSON (the
// canonicaliser, pkg/canonical, has checked syntax, duplicate keys, UTF-8,
// number precision and depth), so it never parses a value it is not asked
// about. A Value is the text of one value; an Object is the members of one
// object, read once, with its path. An Object comes from a Value (the
// members are read with github.com/tidwall/gjson) or from members a caller
// has already split, such as the top-level member spans the canonical pass
// reports, so that decoding a record costs no second parse of its line.
//
// # Errors
//
// Every error is an *errcode.Error whose Field is the path of the value:
// "$.payload.seq", "$[3].event.time" for documents (Style.Root "$", RFC
// 9535 dot and index notation), "attachments[2].hash" for the fields of a
// record (Style.Root ""). A Style says which code the errors carry and how
// they are worded; a decoder keeps one Style for a whole input.
package jsonobj

import (
	"fmt"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/tidwall/gjson"
)

// Type is the JSON type of a value.
type Type uint8

// The JSON types. Absent is the type of a member that is not there.
const (
	Absent Type = iota
	Null
	Bool
	Number
	String
	Array
	ObjectType
)

var typeNames = [...]string{"nothing", "null", "a boolean", "a number", "a string", "an array", "an object"}

// String describes the type for an error message: "a string", "null".
func (t Type) String() string { return typeNames[t] }

// Value is the JSON text of one value, without surrounding whitespace;
// the zero Value is absent.
type Value struct {
	Raw string
}

// trim removes the JSON whitespace around a document's text.
func trim(v Value) Value { return Value{Raw: strings.Trim(v.Raw, " \t\r\n")} }

// Of returns the Value of a gjson result.
func Of(r gjson.Result) Value { return Value{Raw: r.Raw} }

// Type returns the value's JSON type, from its first byte.
func (v Value) Type() Type {
	if v.Raw == "" {
		return Absent
	}
	switch v.Raw[0] {
	case '"':
		return String
	case '{':
		return ObjectType
	case '[':
		return Array
	case 't', 'f':
		return Bool
	case 'n':
		return Null
	}
	return Number
}

// Exists reports whether the value is present.
func (v Value) Exists() bool { return v.Raw != "" }

// IsNull reports whether the value is absent or null.
func (v Value) IsNull() bool { return v.Raw == "" || v.Raw[0] == 'n' }

// Str returns the decoded text of a string value ("" for any other). A
// string without escapes shares memory with Raw.
func (v Value) Str() string {
	if v.Type() != String {
		return ""
	}
	if n := len(v.Raw); n >= 2 && v.Raw[n-1] == '"' {
		if body := v.Raw[1 : n-1]; strings.IndexByte(body, '\\') < 0 {
			return body
		}
	}
	return gjson.Parse(v.Raw).Str
}

// Member is one key and value of an object.
type Member struct {
	Key   string // decoded
	Value Value
}

// Style says how a decoder's errors are reported.
type Style struct {
	// Root is the path of the document root: "$" for a document (paths
	// like $.a[0].b), "" for the fields of a record (a[0].b).
	Root string
	// File, when set, is the errors' Path.
	File string
	// Code is the code of every error. When empty, errors carry the codes
	// of records: input.unknown_field, input.missing_field,
	// input.field_invalid, and a scalar constructor's own code.
	Code errcode.Code
	// Document selects the wording of documents: "missing", "unknown key
	// "k"" reported at the object's path, and type errors that name what
	// was found ("must be a string, not a number"). Otherwise errors use
	// the wording of records: "required field is missing", "unknown field"
	// reported at the key, "must be a string".
	Document bool
	// Unknown and Missing replace the record wording of those errors.
	Unknown, Missing string
}

func (st *Style) code(c errcode.Code) errcode.Code {
	if st.Code != "" {
		return st.Code
	}
	return c
}

func (st *Style) fail(c errcode.Code, path, msg string) error {
	return &errcode.Error{Code: st.code(c), Path: st.File, Field: path, Msg: msg}
}

// Object is the members of one JSON object and its path.
type Object struct {
	st      *Style
	path    string
	members []Member
	hint    int // where the last lookup matched: members are often read in order

	// index finds a member by its key's hash (keyHash) once lookups have
	// missed the hint a few times: a record's decoder looks up each of its
	// keys, in an order of its own, and checks the required ones again.
	// Slot h holds 1 + the index of a member whose key hashes to h, or the
	// next slots do (linear probing); 0 is empty.
	index  [indexSlots]uint8
	misses uint8 // lookups that missed the hint, or indexed once the index is built
}

// indexed is Object.misses once the index is built.
const indexed = 255

// indexSlots is the size of Object.index; objects of more than
// indexSlots*3/4 members are searched one member after another.
const indexSlots = 32

// keyHash is the slot of key in Object.index.
func keyHash(key string) int {
	h := uint(len(key))
	if h > 0 {
		h = ((h*33+uint(key[0]))*33+uint(key[len(key)/2]))*33 + uint(key[len(key)-1])
	}
	return int((h ^ h>>5) % indexSlots)
}

// Object returns the object at the root of a document (or record), or an
// error when v is not an object.
func (st *Style) Object(v Value) (Object, error) { return st.object(trim(v), st.Root) }

// Members returns the root object made of members the caller has already
// split (the canonical pass's member spans, for example). members is not
// copied.
func (st *Style) Members(members []Member) Object {
	return Object{st: st, path: st.Root, members: members}
}

// ObjectAt returns the object v, found at path: a value of another
// document embedded in this one, decoded in this Style.
func (st *Style) ObjectAt(path string, v Value) (Object, error) { return st.object(trim(v), path) }

func (st *Style) object(v Value, path string) (Object, error) {
	if t := v.Type(); t != ObjectType {
		return Object{}, st.typeErr(path, ObjectType, t)
	}
	o := Object{st: st, path: path}
	gjson.Parse(v.Raw).ForEach(func(k, v gjson.Result) bool {
		o.members = append(o.members, Member{Key: k.Str, Value: Value{Raw: v.Raw}})
		return true
	})
	return o, nil
}

// typeErr reports a value of type got where want was needed.
func (st *Style) typeErr(path string, want, got Type) error {
	return st.typeErrWant(path, want.String(), got)
}

func (st *Style) typeErrWant(path, want string, got Type) error {
	if got == Absent {
		return st.missing(path)
	}
	msg := "must be " + want
	if st.Document {
		msg += ", not " + got.String()
	}
	return st.fail(errcode.InputFieldInvalid, path, msg)
}

func (st *Style) missing(path string) error {
	msg := "required field is missing"
	switch {
	case st.Document:
		msg = "missing"
	case st.Missing != "":
		msg = st.Missing
	}
	return st.fail(errcode.InputMissingField, path, msg)
}

// Path is the object's path.
func (o *Object) Path() string { return o.path }

// Style is the Style the object was decoded in.
func (o *Object) Style() *Style { return o.st }

// Members returns the members in document order.
func (o *Object) Members() []Member { return o.members }

// Len is the number of members.
func (o *Object) Len() int { return len(o.members) }

// Get returns the member key's value (absent when there is none).
func (o *Object) Get(key string) Value {
	n := len(o.members)
	if h := o.hint; h < n && o.members[h].Key == key {
		o.hint = h + 1
		return o.members[h].Value
	}
	if n > 4 && n <= indexSlots*3/4 {
		switch o.misses {
		case 2:
			o.buildIndex()
			fallthrough
		case indexed:
			for h := keyHash(key); o.index[h] != 0; h = (h + 1) % indexSlots {
				if j := int(o.index[h]) - 1; o.members[j].Key == key {
					o.hint = j + 1
					return o.members[j].Value
				}
			}
			return Value{}
		}
		o.misses++
	}
	for i := range n {
		j := o.hint + i
		if j >= n {
			j -= n
		}
		if o.members[j].Key == key {
			o.hint = j + 1
			return o.members[j].Value
		}
	}
	return Value{}
}

// buildIndex fills o.index, once.
func (o *Object) buildIndex() {
	for j, m := range o.members {
		h := keyHash(m.Key)
		for o.index[h] != 0 {
			h = (h + 1) % indexSlots
		}
		o.index[h] = uint8(j + 1)
	}
	o.misses = indexed
}

// Has reports whether the object has the member key.
func (o *Object) Has(key string) bool { return o.Get(key).Exists() }

// KeyPath is the path of the member key.
func (o *Object) KeyPath(key string) string {
	switch {
	case o.st.Root == "" && (o.path == "" || key == ""):
		return o.path + key // record fields join with dots, as errcode.InField does
	case o.st.Root == "" || isShorthand(key):
		return o.path + "." + key
	}
	return o.path + "['" + escapeName(key) + "']"
}

// isShorthand reports whether key can follow a dot in a JSONPath (RFC 9535
// member-name-shorthand, ASCII only).
func isShorthand(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// escapeName escapes a member name for a single-quoted JSONPath name
// selector.
func escapeName(key string) string {
	q := strconv.Quote(key)
	q = q[1 : len(q)-1]
	q = strings.ReplaceAll(q, `\"`, `"`)
	return strings.ReplaceAll(q, "'", `\'`)
}

// Only fails on the first member, in document order, whose key is not
// one of keys.
func (o *Object) Only(keys ...string) error {
	k := 0
next:
	for _, m := range o.members {
		for i := range keys {
			j := k + i
			if j >= len(keys) {
				j -= len(keys)
			}
			if keys[j] == m.Key {
				k = j + 1
				continue next
			}
		}
		return o.unknown(m.Key)
	}
	return nil
}

func (o *Object) unknown(key string) error {
	st := o.st
	if st.Document {
		return st.fail(errcode.InputUnknownField, o.path, "unknown key "+errcode.Abbrev(strconv.Quote(key), 64))
	}
	msg := "unknown field"
	if st.Unknown != "" {
		msg = st.Unknown
	}
	return st.fail(errcode.InputUnknownField, o.KeyPath(key), msg)
}

// Require fails on the first of keys that the object does not have.
func (o *Object) Require(keys ...string) error {
	for _, k := range keys {
		if !o.Has(k) {
			return o.st.missing(o.KeyPath(k))
		}
	}
	return nil
}

// keyOrSelf is the path of the member key, or of the object for "".
func (o *Object) keyOrSelf(key string) string {
	if key == "" {
		return o.path
	}
	return o.KeyPath(key)
}

// Errorf returns an input.field_invalid error (or the Style's code) about
// the member key, or about the object itself when key is "".
func (o *Object) Errorf(key, format string, args ...any) error {
	return o.st.fail(errcode.InputFieldInvalid, o.keyOrSelf(key), fmt.Sprintf(format, args...))
}

// Fail is Errorf with another code than input.field_invalid, such as
// input.too_large; a Style's code takes precedence.
func (o *Object) Fail(code errcode.Code, key, msg string) error {
	return o.st.fail(code, o.keyOrSelf(key), msg)
}

// Invalid reports that the member key's value (the object itself for "")
// was refused by err, an error of a constructor such as scalar.ParseUUID.
// The error keeps err's code and message, or carries the Style's code and
// err's message, and names the key's path.
func (o *Object) Invalid(key string, err error) error {
	return o.st.invalid(o.keyOrSelf(key), err)
}

func (st *Style) invalid(path string, err error) error {
	if st.Code == "" {
		return errcode.InField(err, path)
	}
	msg := err.Error()
	if e, ok := errcode.As(err); ok {
		msg = e.Msg
	}
	return st.fail(errcode.CodeOf(err), path, msg)
}

// String decodes the member key as a string.
func (o *Object) String(key string) (string, error) {
	v := o.Get(key)
	if t := v.Type(); t != String {
		return "", o.st.typeErr(o.KeyPath(key), String, t)
	}
	return v.Str(), nil
}

// OptString decodes the member key as a string or null; absent counts as
// null, and ok reports a string.
func (o *Object) OptString(key string) (s string, ok bool, err error) {
	v := o.Get(key)
	switch t := v.Type(); t {
	case Absent, Null:
		return "", false, nil
	case String:
		return v.Str(), true, nil
	default:
		return "", false, o.st.typeErrWant(o.KeyPath(key), "a string or null", t)
	}
}

// Bool decodes the member key as a boolean.
func (o *Object) Bool(key string) (bool, error) {
	v := o.Get(key)
	if t := v.Type(); t != Bool {
		return false, o.st.typeErr(o.KeyPath(key), Bool, t)
	}
	return v.Raw == "true", nil
}

// Uint decodes the member key as a non-negative integer literal: a
// fraction or an exponent is refused, even for a whole number ("1.0").
func (o *Object) Uint(key string) (uint64, error) {
	return uintValue(o.st, o.Get(key), o.KeyPath(key))
}

// uintValue decodes v, found at path, as Object.Uint does.
func uintValue(st *Style, v Value, path string) (uint64, error) {
	if err := integer(st, v, path); err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(v.Raw, 10, 64)
	if err != nil {
		if st.Document && v.Raw[0] != '-' {
			return 0, st.fail(errcode.InputFieldInvalid, path, "not an unsigned integer: "+errcode.Abbrev(v.Raw, 64))
		}
		return 0, st.fail(errcode.InputFieldInvalid, path, "must be a non-negative integer, not "+v.Raw)
	}
	return n, nil
}

// Int decodes the member key as an integer literal.
func (o *Object) Int(key string) (int64, error) {
	v, path := o.Get(key), o.KeyPath(key)
	if err := integer(o.st, v, path); err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if err != nil {
		return 0, o.st.fail(errcode.InputFieldInvalid, path, "not an integer: "+errcode.Abbrev(v.Raw, 64))
	}
	return n, nil
}

// integer checks that v is a number without fraction or exponent.
func integer(st *Style, v Value, path string) error {
	t := v.Type()
	if t != Number {
		want := "a number"
		if st.Document {
			want = "an integer"
		}
		return st.typeErrWant(path, want, t)
	}
	if strings.ContainsAny(v.Raw, ".eE") && st.Document {
		return st.fail(errcode.InputFieldInvalid, path, "must be an integer, not the float "+errcode.Abbrev(v.Raw, 64))
	}
	return nil
}

// Object decodes the member key as an object.
func (o *Object) Object(key string) (Object, error) {
	return o.st.object(o.Get(key), o.KeyPath(key))
}

// OptObject decodes the member key as an object or null; absent counts as
// null, and ok reports an object.
func (o *Object) OptObject(key string) (obj Object, ok bool, err error) {
	v := o.Get(key)
	switch t := v.Type(); t {
	case Absent, Null:
		return Object{}, false, nil
	case ObjectType:
		obj, err = o.st.object(v, o.KeyPath(key))
		return obj, err == nil, err
	default:
		return Object{}, false, o.st.typeErrWant(o.KeyPath(key), "an object or null", t)
	}
}

// Array decodes the member key as an array.
func (o *Object) Array(key string) (List, error) {
	return o.st.list(o.Get(key), o.KeyPath(key))
}

// Objects calls fn with each element of the array o.key, decoded as an
// object, until fn returns an error, which Objects returns. With max > 0,
// an array of more than max elements is input.too_large ("more than max
// key"), reported before its element max is read.
func (o *Object) Objects(key string, max int, fn func(i int, e *Object) error) error {
	l, err := o.Array(key)
	if err != nil {
		return err
	}
	return l.Each(func(i int, v Value) error {
		if max > 0 && i >= max {
			return o.Fail(errcode.InputTooLarge, key, "more than "+strconv.Itoa(max)+" "+key)
		}
		e, err := l.Object(i, v)
		if err != nil {
			return err
		}
		return fn(i, &e)
	})
}

// Scalar decodes the member key as a string and then with parse, a scalar
// constructor; a value parse refuses is reported by Object.Invalid.
func Scalar[T any](o *Object, key string, parse func(string) (T, error)) (T, error) {
	s, err := o.String(key)
	if err != nil {
		var zero T
		return zero, err
	}
	t, err := parse(s)
	if err != nil {
		return t, o.Invalid(key, err)
	}
	return t, nil
}

// Timestamp decodes the member key as a timestamp (SPEC §2).
func (o *Object) Timestamp(key string) (scalar.Timestamp, error) {
	return Scalar(o, key, scalar.ParseTimestamp)
}

// Digest decodes the member key as a "sha256:…" digest.
func (o *Object) Digest(key string) (scalar.Digest, error) { return Scalar(o, key, scalar.ParseDigest) }

// UUID decodes the member key as a UUIDv7.
func (o *Object) UUID(key string) (scalar.UUID, error) { return Scalar(o, key, scalar.ParseUUID) }

// Label decodes the member key as a Label.
func (o *Object) Label(key string) (scalar.Label, error) { return Scalar(o, key, scalar.ParseLabel) }

// Token decodes the member key as a Token.
func (o *Object) Token(key string) (scalar.Token, error) { return Scalar(o, key, scalar.ParseToken) }

// KeyID decodes the member key as a key id.
func (o *Object) KeyID(key string) (scalar.KeyID, error) { return Scalar(o, key, scalar.ParseKeyID) }

// List is one JSON array and its path. Its elements are read only when
// asked for, so a bound can stop a walk over an array of any length.
type List struct {
	st   *Style
	path string
	raw  string
}

// List returns the array at the root of a document, or an error when v is
// not an array.
func (st *Style) List(v Value) (List, error) { return st.list(trim(v), st.Root) }

func (st *Style) list(v Value, path string) (List, error) {
	if t := v.Type(); t != Array {
		return List{}, st.typeErr(path, Array, t)
	}
	return List{st: st, path: path, raw: v.Raw}, nil
}

// Path is the array's path.
func (l *List) Path() string { return l.path }

// Each calls fn with each element in order until fn returns an error,
// which Each returns.
func (l *List) Each(fn func(i int, v Value) error) error {
	var err error
	i := 0
	gjson.Parse(l.raw).ForEach(func(_, v gjson.Result) bool {
		err = fn(i, Value{Raw: v.Raw})
		i++
		return err == nil
	})
	return err
}

// Values returns every element.
func (l *List) Values() []Value {
	var vs []Value
	l.Each(func(_ int, v Value) error {
		vs = append(vs, v)
		return nil
	})
	return vs
}

// IndexPath is the path of element i.
func (l *List) IndexPath(i int) string { return l.path + "[" + strconv.Itoa(i) + "]" }

// Object decodes v, element i, as an object.
func (l *List) Object(i int, v Value) (Object, error) { return l.st.object(v, l.IndexPath(i)) }

// String decodes v, element i, as a string.
func (l *List) String(i int, v Value) (string, error) {
	if t := v.Type(); t != String {
		return "", l.st.typeErr(l.IndexPath(i), String, t)
	}
	return v.Str(), nil
}

// Invalid reports that element i was refused by err (see Object.Invalid).
func (l *List) Invalid(i int, err error) error { return l.st.invalid(l.IndexPath(i), err) }

// Errorf returns an error about element i, or about the array itself
// when i < 0.
func (l *List) Errorf(i int, format string, args ...any) error {
	return l.Fail(errcode.InputFieldInvalid, i, fmt.Sprintf(format, args...))
}

// Fail is Errorf with another code (a Style's code takes precedence).
func (l *List) Fail(code errcode.Code, i int, msg string) error {
	path := l.path
	if i >= 0 {
		path = l.IndexPath(i)
	}
	return l.st.fail(code, path, msg)
}
