package config

import (
	"reflect"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/schema"
)

// durationPattern is the syntax time.ParseDuration takes, unsigned.
const durationPattern = `^([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))*$`

// DocumentSchema is the schema of the configuration file (TOML, as the
// JSON it maps to), made from the keys' tags: the types, defaults, enums,
// ranges and required keys Parse enforces. The rules that combine keys
// (Config.check) are in the keys' descriptions, not in the schema.
func DocumentSchema() *schema.Schema {
	return build(false).Named("sidecar_config", "arxi-sidecar configuration",
		"The TOML configuration of arxi-sidecar (SIDECAR.md §1), as JSON. Unknown keys are refused; durations are Go duration strings.")
}

// EffectiveSchema is the schema of the effective configuration
// (Config.Effective, GET /v1/config): every key, defaults filled in,
// absent optional values null, paths and secrets "[redacted]".
func EffectiveSchema() *schema.Schema {
	return build(true).Named("effective_config", "Effective configuration",
		"The effective configuration: every key with its value, absent optional values null, the paths of secret files (and, in responses, every path) "+Redacted+".")
}

// build makes the schema of the configuration from Keys: the file's when
// effective is false, the effective view's otherwise.
func build(effective bool) *schema.Schema {
	sections := map[string][]schema.Field{}
	var order []string
	var top []schema.Field
	for _, k := range Keys() {
		section, name, nested := strings.Cut(k.Name, ".")
		if !nested {
			name = section
		}
		v := keySchema(k.Field, effective)
		f := schema.Opt(name, v)
		if effective || k.Field.Tag.Get("required") == "true" {
			f = schema.Req(name, v)
		}
		if !nested {
			top = append(top, f)
			continue
		}
		if _, ok := sections[section]; !ok {
			order = append(order, section)
		}
		sections[section] = append(sections[section], f)
	}
	fields := top
	for _, s := range order {
		sec := schema.Obj(sections[s]...)
		if effective {
			fields = append(fields, schema.Req(s, sec))
		} else {
			fields = append(fields, schema.Opt(s, sec))
		}
	}
	return schema.Obj(fields...)
}

// keySchema is the schema of one key's value.
func keySchema(f reflect.StructField, effective bool) *schema.Schema {
	tag := f.Tag
	def, hasDefault := tag.Lookup("default")
	var s *schema.Schema
	switch f.Type {
	case reflect.TypeFor[Duration]():
		s = schema.Str(durationPattern, 0, 0)
		if lo, ok := tag.Lookup("min"); ok {
			s = s.Doc("from " + lo + " to " + tag.Get("max"))
		}
		if hasDefault {
			s = s.Defaults(def)
		}
	default:
		switch f.Type.Kind() {
		case reflect.String:
			s = schema.Str("", 0, 0)
			if e, ok := tag.Lookup("enum"); ok {
				s = schema.Enum(strings.Split(e, "|")...)
			}
			if hasDefault {
				s = s.Defaults(def)
			}
		case reflect.Int:
			lo, _ := strconv.ParseInt(tag.Get("min"), 10, 64)
			hi, err := strconv.ParseInt(tag.Get("max"), 10, 64)
			if err != nil {
				hi = schema.MaxSafeInteger
			}
			s = schema.Int(lo, hi)
			if e, ok := tag.Lookup("enum"); ok {
				n, _ := strconv.Atoi(e)
				s = schema.Const(n)
			}
			if hasDefault {
				n, _ := strconv.Atoi(def)
				s = s.Defaults(n)
			}
		case reflect.Bool:
			s = schema.Bool()
			if hasDefault {
				s = s.Defaults(def == "true")
			}
		}
	}
	doc := tag.Get("doc")
	switch tag.Get("kind") {
	case "path":
		doc += " (a path, relative to the configuration file's directory)"
	case "secret":
		doc += " (the path of a secret file)"
	}
	s = s.Doc(doc)
	if effective {
		kind := tag.Get("kind")
		if kind != "" || !hasDefault {
			s = s.OrNull()
		}
		if kind != "" {
			s = schema.Str("", 1, 0).OrNull().Doc(doc + "; " + Redacted + " for a secret file, and in responses for every path")
		}
	}
	return s
}
