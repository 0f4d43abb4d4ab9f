package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Struct returns the schema of the JSON that encoding/json (or
// canonical.Marshal) writes for a value of type T: the encoder's own
// struct is the declaration, so a key added to it is in the schema. Keys
// come from the json tags (omitempty keys are optional, the others
// required), JSON types from the Go types (a pointer is nullable), and
// rules refine the value at a path: "status", "phases[].name",
// "warnings[].code". A rule for a path the type does not have is a
// programming error: Struct panics, so that a stale rule fails at once.
func Struct[T any](rules map[string]*Schema) *Schema {
	used := map[string]bool{}
	s, err := fromType(reflect.TypeFor[T](), "", rules, used)
	if err != nil {
		panic("schema: " + err.Error())
	}
	for path := range rules {
		if !used[path] {
			panic(fmt.Sprintf("schema: rule for %q: %s has no such key", path, reflect.TypeFor[T]()))
		}
	}
	return s
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

func fromType(t reflect.Type, path string, rules map[string]*Schema, used map[string]bool) (*Schema, error) {
	if r, ok := rules[path]; ok && path != "" {
		used[path] = true
		return r, nil
	}
	switch {
	case t == rawMessage:
		return AnyValue(), nil
	case t.Kind() == reflect.Pointer:
		s, err := fromType(t.Elem(), path, rules, used)
		if err != nil {
			return nil, err
		}
		return s.OrNull(), nil
	}
	switch t.Kind() {
	case reflect.String:
		return Str("", 0, 0), nil
	case reflect.Bool:
		return Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Int(-MaxSafeInteger, MaxSafeInteger), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Int(0, MaxSafeInteger), nil
	case reflect.Slice, reflect.Array:
		items, err := fromType(t.Elem(), path+"[]", rules, used)
		if err != nil {
			return nil, err
		}
		return List(items, 0, 0), nil
	case reflect.Struct:
		var fields []Field
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" || name == "" {
				return nil, fmt.Errorf("%s.%s: every field needs a json name", t, f.Name)
			}
			key := name
			if path != "" {
				key = path + "." + name
			}
			v, err := fromType(f.Type, key, rules, used)
			if err != nil {
				return nil, err
			}
			if slices.Contains(strings.Split(opts, ","), "omitempty") {
				fields = append(fields, Opt(name, v))
			} else {
				fields = append(fields, Req(name, v))
			}
		}
		slices.SortFunc(fields, func(a, b Field) int { return strings.Compare(a.Key, b.Key) })
		return Obj(fields...), nil
	}
	return nil, fmt.Errorf("%s: no JSON schema for %s", path, t)
}
