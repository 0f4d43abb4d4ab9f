package redact

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"github.com/google/go-cmp/cmp"
)

var testSources = []string{"a", "b"}

func mustNew(t testing.TB, cfg Config) *Policy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// segs renders a pattern's segments for comparison.
func segs(p *pattern) string {
	var parts []string
	if p.source != "" {
		parts = append(parts, p.source+":")
	}
	for _, s := range p.segs {
		switch s.kind {
		case segKey:
			parts = append(parts, "k("+s.key+")")
		case segIndex:
			parts = append(parts, fmt.Sprintf("i(%d)", s.idx))
		case segAny:
			parts = append(parts, "*")
		case segDescend:
			parts = append(parts, "..")
		case segKeyOrIndex:
			parts = append(parts, fmt.Sprintf("t(%s,%d)", s.key, s.idx))
		}
	}
	return strings.Join(parts, " ")
}

// TestParse: the patterns of each syntax, as segments.
func TestParse(t *testing.T) {
	jsonPath := func(s string) (*pattern, error) { return parsePattern(s, testSources) }
	for _, tc := range []struct {
		parse func(string) (*pattern, error)
		in    string
		want  string // segments rendered, or "error: …"
	}{
		{jsonPath, "$", ""},
		{jsonPath, "$.a.b", "k(a) k(b)"},
		{jsonPath, `$["a.b"][3][*].*`, "k(a.b) i(3) * *"},
		{jsonPath, "$..uri", ".. k(uri)"},
		{jsonPath, "$..[0]", ".. i(0)"},
		{jsonPath, "$..*", ".. *"},
		{jsonPath, "a:$.event.payload", "a: k(event) k(payload)"},
		{jsonPath, `$["x\"y"]`, `k(x"y)`},
		{jsonPath, "event.payload", "error: a path starts with $"},
		{jsonPath, "nope:$.a", `error: unknown source "nope"; want one of a, b`},
		{jsonPath, "$.", "error: empty name"},
		{jsonPath, "$..", "error: .. must be followed"},
		{jsonPath, "$[", "error: unclosed ["},
		{jsonPath, "$[01]", "error: bad index [01]"},
		{jsonPath, "$[-1]", "error: bad index [-1]"},
		{jsonPath, `$["a]`, "error: unclosed ["},
		{jsonPath, "$a", `error: unexpected "a"`},
		{jsonPath, `$.a"b`, "error: name"},
		{parsePointer, "", ""},
		{parsePointer, "/data/args", "t(data,-1) t(args,-1)"},
		{parsePointer, "/content/0/text", "t(content,-1) t(0,0) t(text,-1)"},
		{parsePointer, "/a~1b/c~0d/~01", "t(a/b,-1) t(c~d,-1) t(~1,-1)"},
		{parsePointer, "/01/-/", "t(01,-1) t(-,-1) t(,-1)"},
		{parsePointer, "/a:b", "t(a:b,-1)"},
		{parsePointer, "data/args", `error: a JSON pointer is "" or starts with /`},
		{parsePointer, "$.data", `error: a JSON pointer is "" or starts with /`},
		{parsePointer, "/a~2", `error: bad escape in "a~2"`},
		{parsePointer, "/a~", `error: bad escape in "a~"`},
	} {
		p, err := tc.parse(tc.in)
		got := ""
		if err != nil {
			got = "error: " + err.Error()
		} else {
			got = segs(p)
		}
		if !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
			t.Errorf("parse(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Paths: []string{"bad"}}, "redact-path"},
		{Config{Paths: []string{"bad"}, Syntax: Pointer}, "redact-path"},
		{Config{Defaults: []string{"c:$.x"}, Sources: testSources}, "redact-path"},
		{Config{MaxString: -1}, "max-string"},
		{Config{MaxRecord: MaxMaxRecord + 1}, "max-record"},
	} {
		_, err := New(tc.cfg)
		e, ok := errcode.As(err)
		if !errors.Is(err, errcode.ConfigInvalid) || !ok || e.Field != tc.field {
			t.Errorf("New(%+v) = %v, want config.invalid in field %s", tc.cfg, err, tc.field)
		}
	}
	// Broken defaults do not matter once they are disabled.
	if _, err := New(Config{Defaults: []string{"bad"}, DisableDefaults: true}); err != nil {
		t.Errorf("disabled defaults checked: %v", err)
	}
}

// TestRedact: what each kind of path, the sensitive keys and the bounds
// replace, and how each syntax reports it.
func TestRedact(t *testing.T) {
	sensitive := regexp.MustCompile(`(?i)(secret|token)$`)
	const rec = `{"a":{"b":[1,"x",{"c":"deep"}],"d/e":"s","tokens":3},"list":[{"text":"t0"},{"n":null,"text":"t1"}],"my_secret":"s3","note":"0123456789ab","z":"plain"}`
	for _, tc := range []struct {
		name   string
		cfg    Config
		source string
		want   []string
	}{
		{"none", Config{}, "a", nil},
		{"sensitive", Config{Sensitive: sensitive}, "a", []string{"$.my_secret"}},
		{"sensitive off", Config{Sensitive: sensitive, DisableDefaults: true}, "a", nil},
		{"defaults by source", Config{Defaults: []string{"a:$.z", "b:$.note", "$.a.b[0]"}, Sources: testSources}, "a", []string{"$.a.b[0]", "$.z"}},
		{"descendant", Config{Defaults: []string{"$..text"}}, "a", []string{"$.list[0].text", "$.list[1].text"}},
		{"any", Config{Paths: []string{"$.list[*].*"}}, "a", []string{"$.list[0].text", "$.list[1].text"}}, // null stays
		{"quoted name", Config{Paths: []string{`$.a["d/e"]`}}, "a", []string{`$.a["d/e"]`}},
		{"pointer", Config{Paths: []string{"/a/d~1e", "/a/b/2/c", "/list/1"}, Syntax: Pointer}, "a", []string{"/a/b/2/c", "/a/d~1e", "/list/1"}},
		{"pointer whole", Config{Paths: []string{""}, Syntax: Pointer}, "a", []string{""}},
		{"jsonpath whole", Config{Paths: []string{"$"}}, "a", []string{"$"}},
		{"pointer sensitive", Config{Sensitive: sensitive, Syntax: Pointer}, "a", []string{"/my_secret"}},
		{"strings only", Config{StringDefaults: []string{"$.a.b[*]", "$.a"}}, "a", []string{"$.a.b[1]"}},
		{"max string", Config{MaxString: 11, Syntax: Pointer}, "a", []string{"/note"}},
		{"max record", Config{MaxRecord: 100}, "a", []string{"$"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, paths := mustNew(t, tc.cfg).Redactor().Redact(tc.source, rec)
			if diff := cmp.Diff(tc.want, paths, cmp.Comparer(func(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") })); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
			if !canonical.IsCanonical(out) {
				t.Errorf("output not canonical: %s", out)
			}
			if n := bytes.Count(out, []byte(`"sha256":`)); n != len(tc.want) {
				t.Errorf("%d markers for %d paths: %s", n, len(tc.want), out)
			}
		})
	}
}

func TestMarkers(t *testing.T) {
	p := mustNew(t, Config{Paths: []string{"$.a"}, MaxString: 3})
	out, _ := p.Redactor().Redact("", `{"a":{"k":1},"b":"long"}`)
	want := `{"a":{"bytes":7,"redacted":true,"sha256":"` + sum(`{"k":1}`) + `"},"b":{"bytes":6,"sha256":"` + sum(`"long"`) + `","truncated":true}}`
	if string(out) != want {
		t.Errorf("Redact = %s\nwant     %s", out, want)
	}
	if got := string(AppendList(nil, []string{"$.a", `$["b\"c"]`})); got != `["$.a","$[\"b\\\"c\"]"]` {
		t.Errorf("AppendList = %s", got)
	}
}

func sum(s string) string {
	b := (&Redactor{}).marker(nil, s, "redacted")
	return string(b[bytes.Index(b, []byte(`"sha256":"`))+10 : len(b)-2])
}

// TestNullNotRedacted: a null under a redacted path or sensitive key stays
// null (there is nothing to hide).
func TestNullNotRedacted(t *testing.T) {
	p := mustNew(t, Config{Paths: []string{"$.event.payload"}, Sensitive: regexp.MustCompile("token")})
	out, paths := p.Redactor().Redact("", `{"event":{"payload":null,"token":null}}`)
	if string(out) != `{"event":{"payload":null,"token":null}}` || len(paths) != 0 {
		t.Errorf("Redact = %s %v", out, paths)
	}
}

func TestRedactorReuse(t *testing.T) {
	p := mustNew(t, Config{Paths: []string{"$..x"}, MaxString: 4, Sensitive: regexp.MustCompile("key")})
	recs := []string{`{"x":1,"y":"abcdef"}`, `{"a":[{"x":[1,2]},{"apikey":"k"}]}`, `[1,{"x":null}]`, `"just a long string"`, `{}`}
	shared := p.Redactor()
	for range 2 {
		for _, rec := range recs {
			a, pa := shared.Redact("", rec)
			a, pa = bytes.Clone(a), append([]string(nil), pa...)
			b, pb := p.Redactor().Redact("", rec)
			if !bytes.Equal(a, b) || !cmp.Equal(pa, pb) {
				t.Fatalf("a reused redactor differs from a fresh one on %s: %s %v, %s %v", rec, a, pa, b, pb)
			}
		}
	}
}

// TestRedactionsBounded: a record whose redactions list alone would exceed
// its budget is replaced whole, so no payload outgrows SPEC §16.
func TestRedactionsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 2000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"%04d%s_token":1`, i, strings.Repeat("k", 600))
	}
	b.WriteString("}")
	out, paths := mustNew(t, Config{MaxRecord: MaxMaxRecord, Sensitive: regexp.MustCompile("token")}).Redactor().Redact("", b.String())
	if diff := cmp.Diff([]string{"$"}, paths); diff != "" || !bytes.Contains(out, []byte(`"truncated":true`)) {
		t.Errorf("paths %v, out %.100s", paths, out)
	}
}

// FuzzRedact: any pattern, in either syntax, and any value redact to
// canonical JSON whose redactions are sorted; with nothing to redact the
// walk copies the value exactly.
func FuzzRedact(f *testing.F) {
	f.Add("$..uri", []byte(`{"a":{"evidence_ref":{"uri":"x"}},"token":"t","s":"0123456789"}`))
	f.Add(`$["a"][*]`, []byte(`{"a":[1,{"b":null}],"password":{"x":1}}`))
	f.Add("/a/0", []byte(`{"a":[1,{"b":null}],"c~/":{"0":1}}`))
	f.Add("/c~0~1/0", []byte(`{"a":[1,{"b":null}],"c~/":{"0":1}}`))
	sensitive := regexp.MustCompile(`(?i)(token|password)$`)
	identity := mustNew(f, Config{MaxString: 1 << 30, MaxRecord: MaxMaxRecord}).Redactor()
	var c canonical.Canonicalizer
	f.Fuzz(func(t *testing.T, pat string, raw []byte) {
		syntax := JSONPath
		if !strings.HasPrefix(pat, "$") {
			syntax = Pointer
		}
		pol, err := New(Config{Paths: []string{pat}, Syntax: syntax, Sensitive: sensitive, StringDefaults: []string{"$..s"}, MaxString: 4, MaxRecord: 512})
		if err != nil {
			return
		}
		canon, err := c.Append(nil, raw)
		if err != nil {
			return
		}
		out, paths := pol.Redactor().Redact("", string(canon))
		if !canonical.IsCanonical(out) {
			t.Fatalf("not canonical: %s", out)
		}
		for i := 1; i < len(paths); i++ {
			if paths[i-1] > paths[i] {
				t.Fatalf("redactions not sorted: %q", paths)
			}
		}
		if out, paths := identity.Redact("", string(canon)); string(out) != string(canon) || len(paths) != 0 {
			t.Fatalf("identity walk changed %s into %s", canon, out)
		}
	})
}
