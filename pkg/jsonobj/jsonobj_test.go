package jsonobj

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/tidwall/gjson"
)

var (
	document = &Style{Root: "$", File: "in.json", Code: errcode.DGMalformed, Document: true}
	record   = &Style{}
)

func mustObject(t *testing.T, st *Style, src string) Object {
	t.Helper()
	o, err := st.Object(Value{Raw: src})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// check fails unless err is an *errcode.Error with the code, field and
// message wanted.
func check(t *testing.T, err error, code errcode.Code, field, msg string) {
	t.Helper()
	e, ok := errcode.As(err)
	if !ok {
		t.Fatalf("error = %v, want %s %q: %s", err, code, field, msg)
	}
	if e.Code != code || e.Field != field || e.Msg != msg {
		t.Errorf("error = %s %q: %s, want %s %q: %s", e.Code, e.Field, e.Msg, code, field, msg)
	}
}

func TestErrors(t *testing.T) {
	src := `{"s":"x","n":1.5,"neg":-2,"b":true,"o":{"k":1},"a":[1,{"x":1}],"nul":null,"weird key":1}`
	for _, tc := range []struct {
		name  string
		run   func(o *Object) error
		st    *Style
		code  errcode.Code
		field string
		msg   string
	}{
		{"missing doc", func(o *Object) error { _, err := o.String("zz"); return err }, document, errcode.DGMalformed, "$.zz", "missing"},
		{"missing rec", func(o *Object) error { _, err := o.String("zz"); return err }, record, errcode.InputMissingField, "zz", "required field is missing"},
		{"type doc", func(o *Object) error { _, err := o.String("n"); return err }, document, errcode.DGMalformed, "$.n", "must be a string, not a number"},
		{"type rec", func(o *Object) error { _, err := o.String("n"); return err }, record, errcode.InputFieldInvalid, "n", "must be a string"},
		{"float doc", func(o *Object) error { _, err := o.Uint("n"); return err }, document, errcode.DGMalformed, "$.n", "must be an integer, not the float 1.5"},
		{"float rec", func(o *Object) error { _, err := o.Uint("n"); return err }, record, errcode.InputFieldInvalid, "n", "must be a non-negative integer, not 1.5"},
		{"negative doc", func(o *Object) error { _, err := o.Uint("neg"); return err }, document, errcode.DGMalformed, "$.neg", "must be a non-negative integer, not -2"},
		{"uint type doc", func(o *Object) error { _, err := o.Uint("s"); return err }, document, errcode.DGMalformed, "$.s", "must be an integer, not a string"},
		{"uint type rec", func(o *Object) error { _, err := o.Uint("s"); return err }, record, errcode.InputFieldInvalid, "s", "must be a number"},
		{"bool", func(o *Object) error { _, err := o.Bool("nul"); return err }, document, errcode.DGMalformed, "$.nul", "must be a boolean, not null"},
		{"opt string", func(o *Object) error { _, _, err := o.OptString("b"); return err }, document, errcode.DGMalformed, "$.b", "must be a string or null, not a boolean"},
		{"opt object", func(o *Object) error { _, _, err := o.OptObject("a"); return err }, document, errcode.DGMalformed, "$.a", "must be an object or null, not an array"},
		{"unknown doc", func(o *Object) error { return o.Only("s", "n", "neg", "b", "o", "a", "nul") }, document, errcode.DGMalformed, "$", `unknown key "weird key"`},
		{"unknown rec", func(o *Object) error { return o.Only("s", "n", "neg", "b", "o", "a", "nul") }, record, errcode.InputUnknownField, "weird key", "unknown field"},
		{"unknown first in document order", func(o *Object) error { return o.Only("nul", "weird key") }, record, errcode.InputUnknownField, "s", "unknown field"},
		{"require order", func(o *Object) error { return o.Require("s", "y", "x") }, record, errcode.InputMissingField, "y", "required field is missing"},
		{"nested doc", func(o *Object) error {
			n, err := o.Object("o")
			if err != nil {
				return err
			}
			_, err = n.String("k")
			return err
		}, document, errcode.DGMalformed, "$.o.k", "must be a string, not a number"},
		{"index doc", func(o *Object) error {
			l, err := o.Array("a")
			if err != nil {
				return err
			}
			return l.Each(func(i int, v Value) error { _, err := l.Object(i, v); return err })
		}, document, errcode.DGMalformed, "$.a[0]", "must be an object, not a number"},
		{"bracket path", func(o *Object) error { _, err := o.String("weird key"); return err }, document, errcode.DGMalformed, "$['weird key']", "must be a string, not a number"},
		{"scalar rec keeps its code", func(o *Object) error { _, err := o.Timestamp("s"); return err }, record, errcode.InputFieldInvalid, "s",
			`timestamp "x": want RFC 3339 UTC, for example 2026-11-22T10:00:00Z`},
		{"scalar with a style code", func(o *Object) error { _, err := o.UUID("s"); return err }, document, errcode.DGMalformed, "$.s",
			`"x" is not a lowercase canonical UUID`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := mustObject(t, tc.st, src)
			err := tc.run(&o)
			check(t, err, tc.code, tc.field, tc.msg)
			if e, _ := errcode.As(err); e != nil && e.Path != tc.st.File {
				t.Errorf("path = %q, want %q", e.Path, tc.st.File)
			}
		})
	}
}

func TestGetters(t *testing.T) {
	o := mustObject(t, record, `{"s":"a\"b\u00e9","u":42,"i":-7,"b":false,"t":"2026-11-22T10:00:00Z","d":"sha256:`+strings.Repeat("ab", 32)+`","nul":null}`)
	if s, err := o.String("s"); err != nil || s != `a"bé` {
		t.Errorf(`String("s") = %q, %v`, s, err)
	}
	if n, err := o.Uint("u"); err != nil || n != 42 {
		t.Errorf(`Uint("u") = %d, %v`, n, err)
	}
	if n, err := o.Int("i"); err != nil || n != -7 {
		t.Errorf(`Int("i") = %d, %v`, n, err)
	}
	if b, err := o.Bool("b"); err != nil || b {
		t.Errorf(`Bool("b") = %v, %v`, b, err)
	}
	if ts, err := o.Timestamp("t"); err != nil || ts.String() != "2026-11-22T10:00:00.000000000Z" {
		t.Errorf(`Timestamp("t") = %v, %v`, ts, err)
	}
	want, _ := scalar.ParseHexDigest(strings.Repeat("ab", 32))
	if d, err := o.Digest("d"); err != nil || d != want {
		t.Errorf(`Digest("d") = %v, %v`, d, err)
	}
	if s, ok, err := o.OptString("nul"); s != "" || ok || err != nil {
		t.Errorf(`OptString("nul") = %q, %v, %v`, s, ok, err)
	}
	if s, ok, err := o.OptString("absent"); s != "" || ok || err != nil {
		t.Errorf(`OptString("absent") = %q, %v, %v`, s, ok, err)
	}
	if !o.Get("nul").IsNull() || !o.Get("absent").IsNull() || o.Get("absent").Exists() {
		t.Error("null and absent values")
	}
}

// TestMembers: an object made of members a caller split itself reads as
// the same object decoded from its text.
func TestMembers(t *testing.T) {
	o := record.Members([]Member{{"a", Value{`1`}}, {"b", Value{`"x"`}}})
	if err := o.Only("a", "b"); err != nil {
		t.Fatal(err)
	}
	if s, err := o.String("b"); err != nil || s != "x" {
		t.Errorf(`String("b") = %q, %v`, s, err)
	}
	_, err := o.String("a")
	check(t, err, errcode.InputFieldInvalid, "a", "must be a string")
}

// TestLookupOrder: members are found, and absent keys not, whatever the
// order of the lookups, before and after they build the object's index,
// with keys whose hashes collide and in objects too large to index.
func TestLookupOrder(t *testing.T) {
	for _, n := range []int{3, 6, 24, 25, 40} {
		var keys, parts []string
		for i := range n {
			k := fmt.Sprintf("k%02d", i)
			if i%3 == 0 {
				k = fmt.Sprintf("a%db%da", i%10, i/10) // same length, first, middle and last byte
			}
			keys = append(keys, k)
			parts = append(parts, fmt.Sprintf("%q:%d", k, i))
		}
		o := mustObject(t, record, "{"+strings.Join(parts, ",")+"}")
		for round := range 3 {
			for i := range n {
				j := (i*7 + round) % n // scrambled
				if v := o.Get(keys[j]); v.Raw != strconv.Itoa(j) {
					t.Fatalf("n=%d round %d: Get(%q) = %v, want %d", n, round, keys[j], v, j)
				}
				for _, absent := range []string{keys[j] + "x", "", "a0b0b", "zz"} {
					if v := o.Get(absent); v.Exists() {
						t.Fatalf("n=%d: Get(%q) = %v, want absent", n, absent, v)
					}
				}
			}
		}
	}
}

func TestKeyPath(t *testing.T) {
	o := mustObject(t, document, `{}`)
	for key, want := range map[string]string{
		"seq": "$.seq", "_x9": "$._x9", "9x": "$['9x']", "a b": "$['a b']", "it's": `$['it\'s']`, `q"`: `$['q"']`, "": "$['']", "é": `$['é']`,
	} {
		if got := o.KeyPath(key); got != want {
			t.Errorf("KeyPath(%q) = %s, want %s", key, got, want)
		}
	}
}

// FuzzObject: on any strict JSON object, every member reads back as
// itself, string values decode as encoding/json decodes them, Only and
// Require agree with the members, and no getter panics or returns an
// error that is not a located *errcode.Error.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":"x\n","c":[1,{"d":null}],"e":{"f":true}}`, `{"t":"2026-11-22T10:00:00Z","n":-1.5e3}`, `[1]`, `"s"`} {
		f.Add([]byte(s))
	}
	getters := []func(o *Object, k string) error{
		func(o *Object, k string) error { _, err := o.String(k); return err },
		func(o *Object, k string) error { _, _, err := o.OptString(k); return err },
		func(o *Object, k string) error { _, err := o.Bool(k); return err },
		func(o *Object, k string) error { _, err := o.Uint(k); return err },
		func(o *Object, k string) error { _, err := o.Int(k); return err },
		func(o *Object, k string) error { _, err := o.Object(k); return err },
		func(o *Object, k string) error { _, _, err := o.OptObject(k); return err },
		func(o *Object, k string) error {
			l, err := o.Array(k)
			if err != nil {
				return err
			}
			return l.Each(func(i int, v Value) error { _, err := l.String(i, v); return err })
		},
		func(o *Object, k string) error { _, err := o.Timestamp(k); return err },
		func(o *Object, k string) error { _, err := o.Digest(k); return err },
		func(o *Object, k string) error { _, err := o.UUID(k); return err },
		func(o *Object, k string) error { _, err := o.Label(k); return err },
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		canon, err := canonical.Transform(in)
		if err != nil {
			return
		}
		for _, src := range []string{string(in), string(canon)} {
			for _, st := range []*Style{document, record} {
				o, err := st.Object(Value{Raw: src})
				if gjson.Parse(src).IsObject() != (err == nil) {
					t.Fatalf("Object(%s) error %v", src, err)
				}
				if err != nil {
					continue
				}
				var keys []string
				for _, m := range o.Members() {
					keys = append(keys, m.Key)
					if got := o.Get(m.Key); got != m.Value {
						t.Fatalf("Get(%q) = %v, want %v", m.Key, got, m.Value)
					}
					if m.Value.Type() == String {
						var want string
						if err := json.Unmarshal([]byte(m.Value.Raw), &want); err != nil || m.Value.Str() != want {
							t.Fatalf("Str of %s = %q, want %q (%v)", m.Value.Raw, m.Value.Str(), want, err)
						}
					}
				}
				if err := o.Only(keys...); err != nil {
					t.Fatalf("Only(own keys) = %v", err)
				}
				if err := o.Require(keys...); err != nil {
					t.Fatalf("Require(own keys) = %v", err)
				}
				if len(keys) > 0 {
					if err := o.Only(); err == nil {
						t.Fatal("Only() accepted a member")
					}
				}
				// Again back to front, which builds the index and reads it.
				for i := len(keys) - 1; i >= 0; i-- {
					if got, want := o.Get(keys[i]), o.Members()[i].Value; got != want {
						t.Fatalf("Get(%q) = %v, want %v", keys[i], got, want)
					}
				}
				for _, k := range append(keys, "absent") {
					for _, get := range getters {
						err := get(&o, k)
						if err == nil {
							continue
						}
						e, ok := errcode.As(err)
						if !ok || !errcode.Known(e.Code) || !strings.HasPrefix(e.Field, st.Root) || e.Msg == "" {
							t.Fatalf("getter on %q: error %#v", k, err)
						}
					}
				}
			}
		}
	})
}
