package canonical

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"arxi.dev/arxi/pkg/errcode"
	"github.com/gowebpki/jcs"
)

func TestRFC8785Examples(t *testing.T) {
	inputs, err := filepath.Glob("testdata/rfc8785/*.input.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no RFC 8785 examples: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.json")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(in, ".input.json") + ".output.json")
			if err != nil {
				t.Fatal(err)
			}
			got, err := Transform(src)
			if err != nil {
				t.Fatalf("Transform: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Transform(%s) =\n%s\nwant\n%s", name, got, want)
			}
			if !IsCanonical(got) {
				t.Errorf("output of %s is not a fixed point", name)
			}
		})
	}
}

func TestTransform(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty object", ` { } `, `{}`},
		{"empty array", `[ ]`, `[]`},
		{"nested sort", `{"b":{"z":1,"a":2},"a":[{"y":0,"x":null}]}`, `{"a":[{"x":null,"y":0}],"b":{"a":2,"z":1}}`},
		{"already sorted", `{"a":1,"b":2}`, `{"a":1,"b":2}`},
		{"escaped key sorts by decoded value", `{"\u0062":1,"a":2}`, `{"a":2,"b":1}`},
		{"control escapes", `"\u0000\u001f\b\f\n\r\t"`, `"\u0000\u001f\b\f\n\r\t"`},
		{"solidus unescaped", `"\/"`, `"/"`},
		{"del and c1 literal", `"\u007f\u0085"`, "\"\u007f\u0085\""},
		{"uppercase hex escape", `"\u00E9"`, `"é"`},
		{"two-byte utf8 bounds", "\"\xc2\x80a\xdf\xbf\"", "\"\xc2\x80a\xdf\xbf\""},
		{"surrogate pair escape", `"\uD83D\uDE00"`, `"😀"`},
		{"line separator literal", `"\u2028"`, "\"\u2028\""},
		// UTF-16 order: U+1F600 is D83D DE00, so it sorts before U+FB33 although its code point is larger.
		{"utf16 order non-BMP before E000-FFFF", `{"\uFB33":1,"😀":2}`, `{"😀":2,"דּ":1}`},
		{"utf16 order BMP below D800 first", `{"😀":1,"\u00e9":2}`, `{"é":2,"😀":1}`},
		{"utf16 order U+FFFF after emoji", `{"\uffff":1,"\ud800\udc00":2}`, "{\"\U00010000\":2,\"\uffff\":1}"},
		{"prefix key first", `{"ab":1,"a":2}`, `{"a":2,"ab":1}`},
		// Numbers in ES6 form.
		{"integer", `[0,-0,1,-1,9007199254740992,-9007199254740992]`, `[0,0,1,-1,9007199254740992,-9007199254740992]`},
		{"fractions", `[1.0,0.50,-1.5,1e0,1E2,1e-7,1e21,9007199254740992.0,123456789.125]`, `[1,0.5,-1.5,1,100,1e-7,1e+21,9007199254740992,123456789.125]`},
		{"large double with exponent is allowed", `1e300`, `1e+300`},
		{"rounded fraction", `0.1000000000000000055511151231257827`, `0.1`},
		{"underflow is zero", `1e-400`, `0`},
		{"max double", `1.7976931348623157e308`, `1.7976931348623157e+308`},
		{"min subnormal", `5e-324`, `5e-324`},
		{"whitespace everywhere", "\t{ \"a\" :\r\n[ 1 , 2 ] }\n", `{"a":[1,2]}`},
		// Copied text and rewritten text alternate (copy's held-back run).
		{"escapes inside copied text", `{"k":"x\u0041y\/","j":"\u00e9","i":"a\\b"}`, `{"i":"a\\b","j":"é","k":"xAy/"}`},
		{"rewritten numbers between copied text", `[1.0,"a",2.50,true,1e2]`, `[1,"a",2.5,true,100]`},
		{"large unsorted object", `{` + members(20, true) + `}`, `{` + members(20, false) + `}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Transform([]byte(tc.in))
			if err != nil {
				t.Fatalf("Transform(%s): %v", tc.in, err)
			}
			if string(got) != tc.want {
				t.Errorf("Transform(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// members writes n members "k00":0 … in key order, or in reverse.
func members(n int, reverse bool) string {
	var ms []string
	for i := range n {
		if reverse {
			i = n - 1 - i
		}
		ms = append(ms, fmt.Sprintf(`"k%02d":%d`, i, i))
	}
	return strings.Join(ms, ",")
}

// TestDuplicateNamed: the duplicate key an error names is the first one
// in document order when two equal keys are neighbours there, else the
// first in key order, for small objects (sorted by insertion) and large
// ones alike.
func TestDuplicateNamed(t *testing.T) {
	for _, tc := range []struct{ in, key string }{
		{`{"a":1,"a":2}`, "a"},
		{`{"b":1,"b":2,"a":1,"a":2}`, "b"},
		{`{"d":1,"b":1,"d":2,"b":2}`, "b"},
		{`{"c":1,"a":1,"b":1,"c":2}`, "c"},
		{`{"b":1,"c":1,"a":1,"c":2,"a":2}`, "a"},
		{`{` + members(20, true) + `,"k03":3,"k17":1}`, "k03"},
		{`{"k17":1,` + members(20, false) + `}`, "k17"},
	} {
		_, err := Transform([]byte(tc.in))
		if want := fmt.Sprintf("duplicate object key %q", tc.key); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Transform(%.40s…) = %v, want an error naming %s", tc.in, err, want)
		}
	}
}

// TestPlainDecimals: fractions without an exponent, which Append copies
// when they are already in ES6 form, come out as the reference writes
// them, around every bound of that form (15 significant digits, five
// zeros after the point, a trailing zero) and on random digits.
func TestPlainDecimals(t *testing.T) {
	lits := []string{"0.5", "-0.5", "100.25", "0.123456789012345", "0.1234567890123456", "12345678901234.5",
		"123456789012345.5", "0.000001", "0.0000001", "0.00000123456789012345", "0.000001234567890123456",
		"-0.0000015", "0.10", "1.50", "9007199254740.99", "0.3", "0.30000000000000004", "4.35", "1.005"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		digits := func(n int) string {
			var b strings.Builder
			for range n {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
			return b.String()
		}
		lit := digits(1 + rng.IntN(9))
		lit = strings.TrimLeft(lit, "0")
		if lit == "" || rng.IntN(3) == 0 {
			lit = "0"
		}
		lit += "." + strings.Repeat("0", rng.IntN(8)) + digits(1+rng.IntN(12))
		if rng.IntN(2) == 0 {
			lit = "-" + lit
		}
		lits = append(lits, lit)
	}
	for _, lit := range lits {
		want, err := jcs.Transform([]byte(lit))
		if err != nil {
			t.Fatal(lit, err)
		}
		got, err := Transform([]byte(lit))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Transform(%s) = %s, %v, want %s", lit, got, err, want)
		}
		if ok, err := (&Canonicalizer{}).Check(want); !ok || err != nil {
			t.Fatalf("Check(%s) = %v, %v", want, ok, err)
		}
	}
}

func TestReject(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, tc := range []struct {
		name string
		in   string
		code errcode.Code
	}{
		{"empty", ``, errcode.InputMalformedJSON},
		{"blank", `   `, errcode.InputMalformedJSON},
		{"trailing data", `{} {}`, errcode.InputMalformedJSON},
		{"trailing comma", `[1,]`, errcode.InputMalformedJSON},
		{"object trailing comma", `{"a":1,}`, errcode.InputMalformedJSON},
		{"single quotes", `{'a':1}`, errcode.InputMalformedJSON},
		{"unquoted key", `{a:1}`, errcode.InputMalformedJSON},
		{"missing colon", `{"a" 1}`, errcode.InputMalformedJSON},
		{"bad literal", `tru`, errcode.InputMalformedJSON},
		{"literal with tail", `[truex]`, errcode.InputMalformedJSON},
		{"duplicate key", `{"a":1,"a":2}`, errcode.InputMalformedJSON},
		{"duplicate key unsorted", `{"b":1,"a":1,"b":2}`, errcode.InputMalformedJSON},
		{"duplicate key via escape", `{"a":1,"\u0061":2}`, errcode.InputMalformedJSON},
		{"nested duplicate", `{"x":[{"k":1,"k":1}]}`, errcode.InputMalformedJSON},
		{"invalid utf8", "\"\xff\"", errcode.InputMalformedJSON},
		{"overlong utf8", "\"\xc0\xaf\"", errcode.InputMalformedJSON},
		{"overlong two-byte utf8", "\"caf\xc1\xa9\"", errcode.InputMalformedJSON},
		{"two-byte lead then ascii", "\"caf\xc3e\"", errcode.InputMalformedJSON},
		{"two-byte lead then lead", "\"caf\xc3\xc3\xa9\"", errcode.InputMalformedJSON},
		{"two-byte lead at the end", "\"caf\xc3", errcode.InputMalformedJSON},
		{"two-byte lead then quote", "\"caf\xc3\"", errcode.InputMalformedJSON},
		{"utf8 encoded surrogate", "\"\xed\xa0\x80\"", errcode.InputMalformedJSON},
		{"truncated utf8", "\"\xe2\x82\"", errcode.InputMalformedJSON},
		{"invalid utf8 in key", "{\"\xff\":1}", errcode.InputMalformedJSON},
		{"lone high surrogate", `"\ud800"`, errcode.InputMalformedJSON},
		{"lone high surrogate then char", `"\ud800x"`, errcode.InputMalformedJSON},
		{"lone low surrogate", `"\udc00"`, errcode.InputMalformedJSON},
		{"reversed surrogates", `"\udc00\ud800"`, errcode.InputMalformedJSON},
		{"high then high", `"\ud800\ud800"`, errcode.InputMalformedJSON},
		{"bad escape", `"\x"`, errcode.InputMalformedJSON},
		{"short unicode escape", `"\u12"`, errcode.InputMalformedJSON},
		{"raw control char", "\"a\tb\"", errcode.InputMalformedJSON},
		{"unterminated string", `"abc`, errcode.InputMalformedJSON},
		{"NaN", `NaN`, errcode.InputMalformedJSON},
		{"Infinity", `[Infinity]`, errcode.InputMalformedJSON},
		{"overflow to infinity", `1e400`, errcode.InputMalformedJSON},
		{"negative overflow", `-1e309`, errcode.InputMalformedJSON},
		{"leading zero", `01`, errcode.InputMalformedJSON},
		{"leading plus", `+1`, errcode.InputMalformedJSON},
		{"bare dot", `1.`, errcode.InputMalformedJSON},
		{"hex number", `0x10`, errcode.InputMalformedJSON},
		{"empty exponent", `1e`, errcode.InputMalformedJSON},
		{"2^53+1", `9007199254740993`, errcode.InputNumberPrecision},
		{"-2^53-1", `-9007199254740993`, errcode.InputNumberPrecision},
		{"1e20 reads back as a big integer", `1e20`, errcode.InputNumberPrecision},
		{"2^53+2 as fraction", `9007199254740994.0`, errcode.InputNumberPrecision},
		{"negative below 1e21", `-9.99e20`, errcode.InputNumberPrecision},
		{"huge integer", `{"n":123456789012345678901234567890}`, errcode.InputNumberPrecision},
		{"too deep arrays", deep(65), errcode.InputTooDeep},
		{"too deep objects", strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65), errcode.InputTooDeep},
		{"byte order mark", "\ufeff{}", errcode.InputMalformedJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("prefix")
			got, err := Append(dst, []byte(tc.in))
			if !errors.Is(err, tc.code) {
				t.Fatalf("Append(%q) error = %v, want %s", tc.in, err, tc.code)
			}
			if string(got) != "prefix" {
				t.Errorf("Append(%q) on error returned %q, want dst unchanged", tc.in, got)
			}
		})
	}
}

func TestDepthLimit(t *testing.T) {
	ok := strings.Repeat("[", 64) + strings.Repeat("]", 64)
	if _, err := Transform([]byte(ok)); err != nil {
		t.Errorf("64 levels: %v, want accepted", err)
	}
	c := Canonicalizer{MaxDepth: 2}
	if _, err := c.Append(nil, []byte(`[[1]]`)); err != nil {
		t.Errorf("MaxDepth 2, [[1]]: %v", err)
	}
	if _, err := c.Append(nil, []byte(`[[[1]]]`)); !errors.Is(err, errcode.InputTooDeep) {
		t.Errorf("MaxDepth 2, [[[1]]]: %v, want %s", err, errcode.InputTooDeep)
	}
}

// TestNumbersAgainstJCS checks the integer fast path and the float path
// against gowebpki/jcs's ES6 formatter on values near the interesting
// boundaries.
func TestNumbersAgainstJCS(t *testing.T) {
	vals := []float64{0, 1, -1, 0.1, 1e21, 1e-6, 1e-7, 5e-324,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 1 << 53, -(1 << 53), 123.456, 1.5e-10, 4.35}
	for i := range 2000 {
		vals = append(vals, math.Float64frombits(uint64(i)*0x9E3779B97F4A7C15))
	}
	for _, v := range vals {
		if a := math.Abs(v); math.IsNaN(v) || math.IsInf(v, 0) || (a > 1<<53 && a < 1e21) {
			continue
		}
		lit := strconv.FormatFloat(v, 'g', -1, 64)
		want, err := jcs.Transform([]byte(lit))
		if err != nil {
			t.Fatalf("jcs.Transform(%s): %v", lit, err)
		}
		got, err := Transform([]byte(lit))
		if err != nil {
			t.Fatalf("Transform(%s): %v", lit, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Transform(%s) = %s, want %s", lit, got, want)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\x00\x01\x1f\x7f", "tab\tnl\n", "café 😀 \u2028", "\ufeff"} {
		got := AppendString(nil, s)
		want, err := jcs.Transform(mustJSON(t, s))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
	if got := string(AppendString(nil, "a\xffb")); got != "\"a\uFFFDb\"" {
		t.Errorf("AppendString(invalid) = %q, want replacement character", got)
	}
}

// FuzzAppendString: any string is written as the JCS literal of its
// runes, each byte that is not UTF-8 as U+FFFD (as ranging over the
// string reads it).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash\x00\x1f", "café 😀 \u2028", "a\xffb", "\xed\xa0\x80", "caf\xc3", "\xc3\xa9\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var runes []rune
		for _, r := range s {
			runes = append(runes, r)
		}
		want, err := jcs.Transform(mustJSON(t, string(runes)))
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got[1:], want)
		}
	})
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "b", -1}, {"b", "a", 1}, {"a", "ab", -1},
		{"\U0001F600", "\uFB33", -1}, // surrogate D83D < FB33
		{"\uE000", "\U00010000", 1},
		{"\U00010000", "\U00010001", -1},
		{"\u00e9", "\u00ea", -1},
		{"x\U0001F600", "x\uFFFF", -1},
	} {
		if got := compareUTF16([]byte(tc.a), []byte(tc.b)); got != tc.want {
			t.Errorf("compareUTF16(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestMarshal(t *testing.T) {
	got, err := Marshal(map[string]any{"z": "<&>", "a": []int{3, 1}, "m": 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":[3,1],"m":0.5,"z":"<&>"}`; string(got) != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
	if _, err := Marshal(map[string]int64{"n": 1 << 60}); !errors.Is(err, errcode.InputNumberPrecision) {
		t.Errorf("Marshal(2^60) error = %v, want %s", err, errcode.InputNumberPrecision)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzTransform compares this package with gowebpki/jcs on arbitrary input:
// whenever both accept, the bytes agree; whatever this package accepts, jcs
// accepts too; the output is a fixed point; nothing panics.
func FuzzTransform(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"b":1,"a":[true,false,null]}`, `"\ud83d\ude00"`, `1.5e300`,
		`{"\ufb33":1,"😀":2}`, `9007199254740993`, `[1e400]`, `{"a":1,"a":2}`, "\"\xff\"", `0.000001`, `-0.0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		got, err := Transform(src)
		if err != nil {
			var e *errcode.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *errcode.Error", err)
			}
			return
		}
		if !utf8.Valid(got) {
			t.Fatalf("output is not UTF-8: %q", got)
		}
		again, err := Transform(got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("not idempotent: %q -> %q (%v)", got, again, err)
		}
		want, err := jcs.Transform(src)
		if err != nil {
			// jcs bounds nesting at 10000 and is otherwise at most as strict.
			t.Fatalf("accepted %q that jcs rejects: %v", src, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Transform(%q) = %q, jcs says %q", src, got, want)
		}
	})
}

// FuzzMembers: the member spans of a top-level object locate exactly its
// members in the output, in order, whatever dst already holds.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"b":1,"a":[true,{"z":null}]}`, `{"\u0061\"":"x","a":{}}`, `[{"a":1}]`, `1`, ` { "k" : "v" } `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var c Canonicalizer
		out, err := c.Append([]byte("prefix"), src)
		if err != nil {
			if c.Members() != nil {
				t.Fatal("members after an error")
			}
			return
		}
		out = out[len("prefix"):]
		ms := c.Members()
		if out[0] != '{' {
			if ms != nil {
				t.Fatalf("members of %q", out)
			}
			return
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatal(err)
		}
		if len(ms) != len(obj) {
			t.Fatalf("%d members, want %d", len(ms), len(obj))
		}
		at := 1
		for i, m := range ms {
			key, _ := json.Marshal(string(m.Key))
			var lit string
			if err := json.Unmarshal(out[m.Quoted:m.Start-1], &lit); err != nil || lit != string(m.Key) || m.Quoted != at || out[m.Start-1] != ':' {
				t.Fatalf("member %d: key literal %q at %d, want %s at %d", i, out[m.Quoted:m.Start-1], m.Quoted, key, at)
			}
			if !bytes.Equal(out[m.Start:m.End], obj[string(m.Key)]) {
				t.Fatalf("member %q = %q, want %q", m.Key, out[m.Start:m.End], obj[string(m.Key)])
			}
			at = m.End + 1
		}
		if at != len(out) && !(len(ms) == 0 && len(out) == 2) {
			t.Fatalf("members end at %d of %d", at, len(out))
		}
	})
}

// FuzzCheck: Check says exactly what comparing Append's output with the
// input says, with Append's errors, and leaves the same member spans.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{}`, `{"b":1,"a":2}`, `{"a":"\u0041"}`, `{"a":-0}`, `[1.0]`, `{"a":[true,{"z":null}]} `, `{"a":1,"a":2}`, `"\n"`, `"\u000a"`, `1e2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var a, c Canonicalizer
		out, aerr := a.Append(nil, src)
		ok, cerr := c.Check(src)
		if (aerr == nil) != (cerr == nil) || (aerr != nil && aerr.Error() != cerr.Error()) {
			t.Fatalf("Check error %v, Append error %v", cerr, aerr)
		}
		if aerr != nil {
			return
		}
		if want := bytes.Equal(out, src); ok != want {
			t.Fatalf("Check(%q) = %v, want %v", src, ok, want)
		}
		if ok {
			am, cm := a.Members(), c.Members()
			if len(am) != len(cm) {
				t.Fatalf("members %d, want %d", len(cm), len(am))
			}
			for i := range am {
				if !bytes.Equal(am[i].Key, cm[i].Key) || am[i].Quoted != cm[i].Quoted || am[i].Start != cm[i].Start || am[i].End != cm[i].End {
					t.Fatalf("member %d: %+v, want %+v", i, cm[i], am[i])
				}
			}
		}
	})
}

// BenchmarkCheck checks a record of ASCII text, and one whose text is
// mostly accented Latin, two bytes a letter, as the benchmark events'
// notes.
func BenchmarkCheck(b *testing.B) {
	for _, bc := range []struct{ name, src string }{
		{"ascii", `{"tool":"search","args":{"query":"quarterly revenue by region","limit":25},"result":{"hits":[{"id":"doc-1","score":0.93},{"id":"doc-2","score":0.81}],"took_ms":42}}`},
		{"text", `{"tool":"search","notes":"` + strings.Repeat("résumé-ready text, naïve café, ", 24) + `","took_ms":42}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src, _ := Transform([]byte(bc.src))
			var c Canonicalizer
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				if ok, _ := c.Check(src); !ok {
					b.Fatal("not canonical")
				}
			}
		})
	}
}

func BenchmarkTransform(b *testing.B) {
	src := []byte(`{"tool":"search","args":{"query":"quarterly revenue by region","limit":25,"filters":{"region":["emea","apac"],"since":"2026-01-01"}},"result":{"hits":[{"id":"doc-1","score":0.93,"title":"Q3 revenue"},{"id":"doc-2","score":0.81,"title":"Regional summary"}],"took_ms":42},"caller":"agent:alpha","note":"caf\u00e9 \ud83d\ude00 multi-byte"}`)
	var c Canonicalizer
	var dst []byte
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var err error
		dst, err = c.Append(dst[:0], src)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTransformCanonical(b *testing.B) {
	src, _ := Transform([]byte(`{"tool":"search","args":{"query":"quarterly revenue by region","limit":25},"result":{"hits":[{"id":"doc-1","score":0.93},{"id":"doc-2","score":0.81}],"took_ms":42}}`))
	var c Canonicalizer
	var dst []byte
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		dst, _ = c.Append(dst[:0], src)
	}
}

func BenchmarkJCSTransform(b *testing.B) {
	src := []byte(`{"tool":"search","args":{"query":"quarterly revenue by region","limit":25,"filters":{"region":["emea","apac"],"since":"2026-01-01"}},"result":{"hits":[{"id":"doc-1","score":0.93,"title":"Q3 revenue"},{"id":"doc-2","score":0.81,"title":"Regional summary"}],"took_ms":42},"caller":"agent:alpha","note":"caf\u00e9 \ud83d\ude00 multi-byte"}`)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := jcs.Transform(src); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPrefix: a key's prefix read as one word from the input is
// keyPrefix of the key, whatever follows it there.
func TestPrefix(t *testing.T) {
	for _, key := range []string{"", "a", "ab", "abcdefg", "abcdefgh", "abcdefghi", "é", "a\x00"} {
		for _, tail := range []string{"", `":1}`, "\xff\xff\xff\xff\xff\xff\xff\xff\xff"} {
			p := &parser{src: []byte(`"` + key + tail)}
			m := member{keyStart: 1, keyEnd: 1 + len(key)}
			if got, want := p.prefix(&m), keyPrefix([]byte(key)); got != want {
				t.Errorf("prefix of %q before %q = %x, want %x", key, tail, got, want)
			}
		}
	}
}

// TestCompareKeys: comparing members by their keys' prefixes orders them
// as compareUTF16 does, for keys that end or differ within the prefix, at
// an ASCII byte or not, and past it.
func TestCompareKeys(t *testing.T) {
	keys := []string{"", "a", "a\x00", "a\x00b", "ab", "b", "abcdefg", "abcdefgh", "abcdefgh\x00", "abcdefghi", "abcdefgi",
		"é", "aé", "a\uE000", "a\U0001F600", "abcdefg\uE000", "abcdefg\U0001F600", "\uFFFF", "\U00010000", "abcdefgh\uE000", "abcdefgh\U0001F600"}
	sign := func(n int) int { return min(max(n, -1), 1) }
	for _, a := range keys {
		for _, b := range keys {
			// One key in the keys arena (it had escapes), one in src.
			p := &parser{keys: []byte(a), src: []byte("_" + b)}
			ma := member{keyStart: 0, keyEnd: len(a), prefix: keyPrefix([]byte(a)), esc: true}
			mb := member{keyStart: 1, keyEnd: 1 + len(b), prefix: keyPrefix([]byte(b))}
			if got, want := sign(p.compareKeys(&ma, &mb)), compareUTF16([]byte(a), []byte(b)); got != want {
				t.Errorf("compareKeys(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}
