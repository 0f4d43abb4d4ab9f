// Package schema declares the JSON shapes of Arxi's records and documents
// and renders them as JSON Schema (draft 2020-12).
//
// # One declaration per record
//
// Each record's shape is declared once, beside the code that decodes or
// writes it (pkg/evidence/schema.go, pkg/bundle/schema.go, …). A decoder
// takes its key lists from the declaration (Schema.Keys, Schema.Required),
// so the keys a schema names are the keys the decoder accepts; the value
// rules (patterns, ranges, enums) come from the scalar constructors' own
// patterns (pkg/scalar) and the packages' constants, and each package's
// tests check that every record it writes validates and every input its
// decoder rejects, the schema rejects too, except for the named rules a
// JSON Schema cannot state (sort order, hashes, byte lengths).
//
// The contract generator (pkg/sidecar/contract) collects the declarations
// and writes them to docs/generated as standalone schema files and as the
// components of the OpenAPI document.
//
// # Rendering
//
// A Schema with a Name is a definition of its own: rendered once under
// $defs (or components/schemas) and referred to by $ref wherever it is
// used. Objects are closed (additionalProperties false) and list their
// required keys. The output is plain JSON values (maps, slices, strings,
// numbers), which encoding/json writes with sorted keys: the same
// declarations always give the same bytes.
package schema

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
)

// Dialect is the JSON Schema dialect of every rendered schema.
const Dialect = "https://json-schema.org/draft/2020-12/schema"

// Type is a JSON type.
type Type string

// The JSON types. Any is no type constraint.
const (
	Any     Type = ""
	Null    Type = "null"
	Boolean Type = "boolean"
	Integer Type = "integer"
	Number  Type = "number"
	String  Type = "string"
	Array   Type = "array"
	Object  Type = "object"
)

// Schema is the shape of one JSON value. Build it with the constructors
// (Str, Int, Obj, …) and refine copies of it with the methods (Named,
// Doc, OrNull); a Schema is not changed once built.
type Schema struct {
	Name        string // a definition of its own, referred to by $ref
	Title       string
	Description string

	Type     Type
	Nullable bool // null is allowed besides Type
	Const    any  // string, bool or integer
	Enum     []string
	Default  any // documentation: the value when absent

	Pattern   string
	MinLength int
	MaxLength int // 0: no limit
	Format    string

	Min, Max *int64

	Items       *Schema
	MinItems    int
	MaxItems    int // 0: no limit
	UniqueItems bool

	Fields        []Field
	MinProperties int
	// Open marks an object that takes keys beyond its fields (a payload).
	Open bool

	OneOf []*Schema
	// Of is the named schema this one refers to, with its own
	// description or null besides (see Doc and OrNull).
	Of *Schema
	// AllOf holds constraints across keys, as JSON Schema (for example
	// "both null or neither"), rendered beside the object's own keywords.
	AllOf []map[string]any
}

// Field is one key of an object.
type Field struct {
	Key      string
	Required bool
	Value    *Schema
}

// Req is a required key.
func Req(key string, v *Schema) Field { return Field{Key: key, Required: true, Value: v} }

// Opt is an optional key.
func Opt(key string, v *Schema) Field { return Field{Key: key, Value: v} }

// AnyValue is any JSON value, null included.
func AnyValue() *Schema { return &Schema{} }

// Str is a string matching pattern ("" for any), of minLen to maxLen
// characters (maxLen 0 for no limit).
func Str(pattern string, minLen, maxLen int) *Schema {
	return &Schema{Type: String, Pattern: pattern, MinLength: minLen, MaxLength: maxLen}
}

// Const is exactly v: a string, a bool or an integer.
func Const(v any) *Schema {
	s := &Schema{Const: v}
	switch v.(type) {
	case string:
		s.Type = String
	case bool:
		s.Type = Boolean
	case int, int64, uint64:
		s.Type = Integer
	default:
		panic(fmt.Sprintf("schema: const of type %T", v))
	}
	return s
}

// Enum is one of the strings values.
func Enum[T ~string](values ...T) *Schema {
	s := &Schema{Type: String}
	for _, v := range values {
		s.Enum = append(s.Enum, string(v))
	}
	return s
}

// Bool is true or false.
func Bool() *Schema { return &Schema{Type: Boolean} }

// MaxSafeInteger is the largest integer the canonical reader takes
// (SPEC §3: 2^53).
const MaxSafeInteger = 1 << 53

// Int is an integer from min to max.
func Int(min, max int64) *Schema { return &Schema{Type: Integer, Min: &min, Max: &max} }

// List is an array of items with minItems to maxItems elements (maxItems
// 0 for no limit).
func List(items *Schema, minItems, maxItems int) *Schema {
	return &Schema{Type: Array, Items: items, MinItems: minItems, MaxItems: maxItems}
}

// Obj is a closed object with fields, in the order a decoder reads them.
func Obj(fields ...Field) *Schema { return &Schema{Type: Object, Fields: fields} }

// OneOf is exactly one of alternatives.
func OneOf(alternatives ...*Schema) *Schema { return &Schema{OneOf: alternatives} }

func (s *Schema) clone() *Schema { c := *s; return &c }

// Named returns a copy that is a definition of its own, name, with a
// title and a description.
func (s *Schema) Named(name, title, description string) *Schema {
	c := s.clone()
	c.Name, c.Title, c.Description = name, title, description
	return c
}

// use returns a copy of s to refine: a reference for a named schema,
// which stays one definition.
func (s *Schema) use() *Schema {
	if s.Name != "" {
		return &Schema{Of: s}
	}
	return s.clone()
}

// Doc returns a copy with a description.
func (s *Schema) Doc(description string) *Schema {
	c := s.use()
	c.Description = description
	return c
}

// OrNull returns a copy that also allows null.
func (s *Schema) OrNull() *Schema {
	c := s.use()
	c.Nullable = true
	return c
}

// Defaults returns a copy documenting the value when absent.
func (s *Schema) Defaults(v any) *Schema {
	c := s.use()
	c.Default = v
	return c
}

// Unique returns a copy of an array schema whose items are distinct.
func (s *Schema) Unique() *Schema {
	c := s.clone()
	c.UniqueItems = true
	return c
}

// With returns a copy of an object schema with the cross-key
// constraints added.
func (s *Schema) With(constraints ...map[string]any) *Schema {
	c := s.clone()
	c.AllOf = append(slices.Clip(c.AllOf), constraints...)
	return c
}

// Keys returns the keys of an object schema, sorted: every key a decoder
// of it accepts. For alternatives (OneOf), it is the union of theirs.
func (s *Schema) Keys() []string {
	var keys []string
	for _, f := range s.Fields {
		keys = append(keys, f.Key)
	}
	for _, alt := range s.OneOf {
		keys = append(keys, alt.Keys()...)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// Required returns the required keys of an object schema in declaration
// order: the order in which a decoder reports the first one missing.
func (s *Schema) Required() []string {
	var keys []string
	for _, f := range s.Fields {
		if f.Required {
			keys = append(keys, f.Key)
		}
	}
	return keys
}

// Field returns the schema of an object's key, or nil.
func (s *Schema) Field(key string) *Schema {
	for _, f := range s.Fields {
		if f.Key == key {
			return f.Value
		}
	}
	return nil
}

// A Set collects named schemas and renders them, each once, with the
// references between them.
type Set struct {
	ref  func(name string) string
	defs map[string]any
	seen map[string]*Schema
}

// NewSet returns a set whose references are ref(name), such as
// "#/$defs/"+name or "#/components/schemas/"+name.
func NewSet(ref func(name string) string) *Set {
	return &Set{ref: ref, defs: map[string]any{}, seen: map[string]*Schema{}}
}

// Add renders s, and every named schema below it, into the set. A name
// declared twice with different shapes is an error.
func (st *Set) Add(s *Schema) error {
	if s.Name == "" {
		return fmt.Errorf("schema: a top-level schema needs a name")
	}
	_, err := st.render(s, true)
	return err
}

// Render renders s with references into the set: a reference when s is
// named, the schema itself otherwise; the named schemas it uses join the
// set.
func (st *Set) Render(s *Schema) (map[string]any, error) { return st.render(s, false) }

// Defs returns the rendered definitions by name.
func (st *Set) Defs() map[string]any { return maps.Clone(st.defs) }

// Ref is the reference to the definition name.
func (st *Set) Ref(name string) map[string]any { return map[string]any{"$ref": st.ref(name)} }

// Document renders s as a standalone JSON Schema document with the given
// $id: its named subschemas under $defs.
func Document(id string, s *Schema) (map[string]any, error) {
	st := NewSet(func(name string) string { return "#/$defs/" + name })
	doc, err := st.render(s, true)
	if err != nil {
		return nil, err
	}
	doc = maps.Clone(doc)
	delete(st.defs, s.Name)
	doc["$schema"] = Dialect
	doc["$id"] = id
	if len(st.defs) > 0 {
		doc["$defs"] = st.defs
	}
	return doc, nil
}

// render renders s: a reference when it is named (its definition added
// to the set once), the schema itself otherwise or when top is set.
func (st *Set) render(s *Schema, top bool) (map[string]any, error) {
	if s.Name == "" {
		return st.body(s)
	}
	if prev, ok := st.seen[s.Name]; !ok {
		st.seen[s.Name] = s
		def, err := st.body(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		st.defs[s.Name] = def
	} else if prev != s && !reflect.DeepEqual(prev, s) {
		return nil, fmt.Errorf("schema: %q is declared twice with different shapes", s.Name)
	}
	if top {
		return st.defs[s.Name].(map[string]any), nil
	}
	return st.Ref(s.Name), nil
}

func (st *Set) body(s *Schema) (map[string]any, error) {
	m := map[string]any{}
	put := func(k string, v any) { m[k] = v }
	if s.Title != "" {
		put("title", s.Title)
	}
	if s.Description != "" {
		put("description", s.Description)
	}
	if s.Of != nil {
		ref, err := st.render(s.Of, false)
		if err != nil {
			return nil, err
		}
		if !s.Nullable {
			maps.Copy(m, ref)
			return m, nil
		}
		put("oneOf", []any{ref, map[string]any{"type": string(Null)}})
		return m, nil
	}
	switch {
	case s.Type == Any:
	case s.Nullable:
		put("type", []any{string(s.Type), string(Null)})
	default:
		put("type", string(s.Type))
	}
	if s.Const != nil {
		if s.Nullable {
			put("enum", []any{s.Const, nil})
		} else {
			put("const", s.Const)
		}
	}
	if s.Default != nil {
		put("default", s.Default)
	}
	if len(s.Enum) > 0 {
		e := make([]any, 0, len(s.Enum)+1)
		for _, v := range s.Enum {
			e = append(e, v)
		}
		if s.Nullable {
			e = append(e, nil)
		}
		put("enum", e)
	}
	if s.Pattern != "" {
		put("pattern", s.Pattern)
	}
	if s.MinLength > 0 {
		put("minLength", s.MinLength)
	}
	if s.MaxLength > 0 {
		put("maxLength", s.MaxLength)
	}
	if s.Format != "" {
		put("format", s.Format)
	}
	if s.Min != nil {
		put("minimum", *s.Min)
	}
	if s.Max != nil {
		put("maximum", *s.Max)
	}
	if s.Items != nil {
		items, err := st.render(s.Items, false)
		if err != nil {
			return nil, err
		}
		put("items", items)
	}
	if s.MinItems > 0 {
		put("minItems", s.MinItems)
	}
	if s.MaxItems > 0 {
		put("maxItems", s.MaxItems)
	}
	if s.UniqueItems {
		put("uniqueItems", true)
	}
	if s.Type == Object {
		props := map[string]any{}
		for _, f := range s.Fields {
			if _, dup := props[f.Key]; dup {
				return nil, fmt.Errorf("schema: key %q is declared twice", f.Key)
			}
			v, err := st.render(f.Value, false)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Key, err)
			}
			props[f.Key] = v
		}
		put("properties", props)
		if req := s.Required(); len(req) > 0 {
			sorted := slices.Sorted(slices.Values(req))
			r := make([]any, len(sorted))
			for i, k := range sorted {
				r[i] = k
			}
			put("required", r)
		}
		if !s.Open {
			put("additionalProperties", false)
		}
		if s.MinProperties > 0 {
			put("minProperties", s.MinProperties)
		}
	}
	if len(s.OneOf) > 0 {
		alts := make([]any, len(s.OneOf))
		for i, alt := range s.OneOf {
			a, err := st.render(alt, false)
			if err != nil {
				return nil, fmt.Errorf("alternative %d: %w", i, err)
			}
			alts[i] = a
		}
		if s.Nullable {
			alts = append(alts, map[string]any{"type": string(Null)})
		}
		put("oneOf", alts)
	}
	if len(s.AllOf) > 0 {
		all := make([]any, len(s.AllOf))
		for i, c := range s.AllOf {
			all[i] = c
		}
		put("allOf", all)
	}
	return m, nil
}

// BothOrNeither is the constraint that keys a and b of an object are
// both null or neither is.
func BothOrNeither(a, b string) map[string]any {
	null := map[string]any{"type": string(Null)}
	notNull := map[string]any{"not": null}
	return map[string]any{"oneOf": []any{
		map[string]any{"properties": map[string]any{a: null, b: null}},
		map[string]any{"properties": map[string]any{a: notNull, b: notNull}},
	}}
}

// Base64 is standard padded base64 (RFC 4648 §4) of exactly n bytes, as
// base64.StdEncoding.Strict() decodes it: the unused bits of the last
// character zero.
func Base64(n int) *Schema {
	full, rest := n/3, n%3
	p := "^"
	if full > 0 {
		p += "[A-Za-z0-9+/]{" + strconv.Itoa(4*full) + "}"
	}
	switch rest {
	case 1:
		p += "[A-Za-z0-9+/][AQgw]=="
	case 2:
		p += "[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]="
	}
	return Str(p+"$", 0, 0)
}

// Base64Data is standard padded base64 of 1 to max bytes.
func Base64Data(max int) *Schema {
	const p = `^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)$`
	return Str(p, 4, 4*((max+2)/3))
}
