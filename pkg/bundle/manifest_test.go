package bundle

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/internal/fuzzinput"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
)

var update = flag.Bool("update", false, "rewrite testdata files")

func timeSeconds(i int) time.Duration { return time.Duration(i) * time.Second }

func manifestLine(t *testing.T) string {
	t.Helper()
	b, _ := mustBuild(t, bundletest.Stream(fixture), Selector{TraceIDs: []scalar.Label{scalar.MustLabel("trace-1")}})
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}

func TestParseManifest(t *testing.T) {
	line := manifestLine(t)
	m, err := ParseManifest([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(m.AppendJCS(nil)); got != line {
		t.Errorf("ParseManifest then AppendJCS =\n%s\nwant\n%s", got, line)
	}
	if !IsManifest([]byte(line)) {
		t.Error("IsManifest(manifest) = false")
	}
	if IsManifest([]byte(`{"record":"genesis"}`)) {
		t.Error("IsManifest(genesis) = true")
	}
}

// manifestReject is a manifest line ParseManifest rejects, with the field
// its error names; schema_test.go checks that the schema rejects it too.
type manifestReject struct {
	name, in, field string
}

func manifestRejects(t *testing.T) []manifestReject {
	line := manifestLine(t)
	sub := func(old, new string) string {
		s := strings.Replace(line, old, new, 1)
		if s == line {
			t.Fatalf("substitution %q did not apply", old)
		}
		return s
	}
	return []manifestReject{
		{"not an object", `[]`, ""},
		{"unknown field", sub(`"attachments"`, `"extra":1,"attachments"`), "extra"},
		{"missing field", sub(`"omitted_parents":[`, `"x":[`), "x"},
		{"wrong record", sub(`"record":"manifest"`, `"record":"manifesto"`), "record"},
		{"bad bundle id", sub(`"bundle_id":"`, `"bundle_id":"X`), "bundle_id"},
		{"bad digest", sub(`"genesis_hash":"sha256:`, `"genesis_hash":"md5:`), "segments[0].genesis_hash"},
		{"bad head", sub(`"head_chain_hash":"sha256:`, `"head_chain_hash":"sha1:`), "segments[0].head_chain_hash"},
		{"bad merkle root", sub(`"merkle_root":"sha256:`, `"merkle_root":"sha256:0`), "segments[0].merkle_root"},
		{"missing merkle root", sub(`"merkle_root":`, `"merkle_rooot":`), "segments[0].merkle_rooot"},
		{"counts do not add up", sub(`"elided":1`, `"elided":2`), "segments[0]"},
		{"empty selector", sub(`"selector":{"trace_ids":["trace-1"]}`, `"selector":{}`), "selector"},
		{"unsorted selector", sub(`["trace-1"]`, `["trace-2","trace-1"]`), ""},
		{"unknown selector key", sub(`{"trace_ids"`, `{"actors":["a"],"trace_ids"`), "selector"},
		{"zero size", sub(`"size":13`, `"size":0`), "attachments[0].size"},
		{"wrong type", sub(`"sealed":true`, `"sealed":"yes"`), ""},
		{"null list", sub(`"omitted_parents":[`, `"omitted_parents":null,"z":[`), ""},
	}
}

// TestParseManifestMerkleRoot: merkle_root is set exactly when the
// segment is sealed.
func TestParseManifestMerkleRoot(t *testing.T) {
	line := manifestLine(t)
	i := strings.Index(line, `"merkle_root":"`)
	open := line[:i] + `"merkle_root":null` + line[i+len(`"merkle_root":"sha256:`)+64+1:]
	if _, err := ParseManifest([]byte(open)); errcode.CodeOf(err) != errcode.BundleMalformed || !strings.Contains(err.Error(), "merkle_root") {
		t.Errorf("sealed segment with a null merkle_root: %v", err)
	}
	m, err := ParseManifest([]byte(strings.Replace(open, `"sealed":true`, `"sealed":false`, 1)))
	if err != nil || m.Segments[0].MerkleRoot != nil {
		t.Errorf("open segment with a null merkle_root: %v", err)
	}
}

func TestParseManifestRejects(t *testing.T) {
	for _, tc := range manifestRejects(t) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tc.in))
			e, ok := errcode.As(err)
			if !ok || e.Code != errcode.BundleMalformed {
				t.Fatalf("ParseManifest = %v, want bundle.malformed", err)
			}
			if tc.field != "" && e.Field != tc.field {
				t.Errorf("field = %q, want %q (%v)", e.Field, tc.field, err)
			}
		})
	}
}

// FuzzParseManifest: decoding never panics, and whatever decodes encodes
// back to exactly its input (one manifest, one byte form). Inputs are edits
// of real manifests (fuzzinput.Edit) and arbitrary bytes.
func FuzzParseManifest(f *testing.F) {
	data := bundletest.Stream(fixture)
	var bases [][]byte
	for _, sel := range []Selector{{All: true}, {Stream: true}, {TraceIDs: []scalar.Label{scalar.MustLabel("trace-1")}}} {
		sp, err := Spool(f.Context(), bytes.NewReader(data), SpoolConfig{Dir: f.TempDir()})
		if err != nil {
			f.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := Build(f.Context(), sp, sel, &out, Options{}); err != nil {
			f.Fatal(err)
		}
		sp.Close()
		line, _, _ := bytes.Cut(out.Bytes(), []byte("\n"))
		bases = append(bases, line)
	}
	for i := range bases {
		f.Add([]byte{}, uint8(i), uint16(0), uint8(0))
	}
	f.Add([]byte(`{"record":"manifest"}`), uint8(fuzzinput.Raw), uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, patch []byte, base uint8, at uint16, cut uint8) {
		in := fuzzinput.Edit(bases, base, at, cut, patch)
		m, err := ParseManifest(in)
		if err != nil {
			if errcode.CodeOf(err) != errcode.BundleMalformed {
				t.Fatalf("error %v is not bundle.malformed", err)
			}
			return
		}
		if got := m.AppendJCS(nil); !bytes.Equal(got, in) {
			t.Fatalf("decoded manifest re-encodes differently:\n%s\n%s", in, got)
		}
	})
}
