package config

import (
	"reflect"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
)

// Redacted stands in for a value the effective configuration does not
// show.
const Redacted = "[redacted]"

// Effective returns the effective configuration, defaults filled in and
// paths absolute, as one canonical JSON object of sections. The paths of
// files that hold secrets (the token, the signing key, its passphrase) are
// always Redacted; with hidePaths every other path and the store URL are too, for responses
// (GET /v1/config), which never show a file path. Absent optional values
// are null.
func (c *Config) Effective(hidePaths bool) []byte {
	root := map[string]any{}
	_ = walk(reflect.ValueOf(c).Elem(), "", func(key string, f reflect.StructField, v reflect.Value) error {
		m := root
		parts := strings.Split(key, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		var val any
		switch x := v.Interface().(type) {
		case Duration:
			if _, ok := f.Tag.Lookup("default"); ok || x.Duration != 0 {
				val = x.String()
			}
		case string:
			kind := f.Tag.Get("kind")
			switch {
			case x == "" && kind != "":
			case kind == "secret" || (kind == "path" || kind == "url") && hidePaths:
				val = Redacted
			default:
				val = x
			}
		default:
			val = x
		}
		m[parts[len(parts)-1]] = val
		return nil
	})
	b, err := canonical.Marshal(root)
	if err != nil { // unreachable: strings, numbers, booleans and nulls
		panic("config: " + err.Error())
	}
	return b
}

// Keys lists every configuration key, dotted, in declaration order, with
// its struct field (whose tags hold its rules).
func Keys() []Key {
	var out []Key
	_ = walk(reflect.ValueOf(&Config{}).Elem(), "", func(key string, f reflect.StructField, v reflect.Value) error {
		out = append(out, Key{Name: key, Field: f})
		return nil
	})
	return out
}

// Key is one configuration key.
type Key struct {
	Name  string
	Field reflect.StructField
}
