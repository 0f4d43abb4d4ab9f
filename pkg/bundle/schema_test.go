package bundle

import (
	"strings"
	"testing"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/internal/schematest"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// manifestBeyondSchema names ParseManifest's rejections a JSON Schema
// cannot state, and why.
var manifestBeyondSchema = map[string]string{
	"counts do not add up": "arithmetic across keys",
	"unsorted selector":    "the order of an array",
}

// TestSchemasAcceptBundles: every line of bundles built with every kind
// of selector validates against its schema.
func TestSchemasAcceptBundles(t *testing.T) {
	manifest := schematest.Compile(t, ManifestSchema)
	records := map[string]*jsonschema.Schema{}
	for _, s := range evidence.Schemas() {
		records[s.Name] = schematest.Compile(t, s)
	}
	since, _ := scalar.ParseTimestamp("2026-11-22T10:00:02Z")
	for _, sel := range []Selector{
		{All: true},
		{TraceIDs: []scalar.Label{scalar.MustLabel("trace-1")}},
		{EventTypes: []scalar.Token{scalar.MustToken("tool.call")}, Since: &since},
	} {
		b, _ := mustBuild(t, bundletest.Stream(fixture), sel)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if err := schematest.Validate(manifest, []byte(lines[0])); err != nil {
			t.Errorf("manifest of %s: %v\n%s", sel.String(), err, lines[0])
		}
		for _, line := range lines[1:] {
			rec, err := evidence.NewDecoder(evidence.DefaultLimits).Sealed([]byte(line))
			if err != nil {
				t.Fatal(err)
			}
			if err := schematest.Validate(records[rec.Kind().String()], []byte(line)); err != nil {
				t.Errorf("%s line: %v\n%s", rec.Kind(), err, line)
			}
		}
	}
}

// TestSchemaRejectsWhatParseManifestRejects: ParseManifest's rejections
// are the schema's too, but for those manifestBeyondSchema names.
func TestSchemaRejectsWhatParseManifestRejects(t *testing.T) {
	manifest := schematest.Compile(t, ManifestSchema)
	for _, tc := range manifestRejects(t) {
		t.Run(tc.name, func(t *testing.T) {
			err := schematest.Validate(manifest, []byte(tc.in))
			if why, ok := manifestBeyondSchema[tc.name]; ok {
				if err != nil {
					t.Fatalf("listed as beyond the schema (%s) but rejected: %v", why, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("the schema accepts what ParseManifest rejects: %s", tc.in)
			}
		})
	}
}

// TestSelectorSchema: the selectors DecodeSelector accepts in their
// canonical form validate; those it refuses do not.
func TestSelectorSchema(t *testing.T) {
	sel := schematest.Compile(t, SelectorSchema)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"all":true}`, true},
		{`{"segments":["01a202b2-c500-7748-bb0a-c67fa3eabe09"],"trace_ids":["t"]}`, true},
		{`{"since":"2026-11-22T10:00:00Z","until":"2026-11-23T10:00:00Z"}`, true},
		{`{}`, false},
		{`{"all":false}`, false},
		{`{"stream":true,"trace_ids":["t"]}`, false},
		{`{"trace_ids":[""]}`, false},
		{`{"event_types":["Tool"]}`, false},
		{`{"actors":["a"]}`, false},
		{`{"since":"2026-11-22T10:00:00+01:00"}`, false},
	} {
		_, derr := DecodeSelector([]byte(tc.in))
		err := schematest.Validate(sel, []byte(tc.in))
		if (err == nil) != tc.ok || (derr == nil) != tc.ok {
			t.Errorf("%s: schema %v, DecodeSelector %v, want valid %v", tc.in, err, derr, tc.ok)
		}
	}
}
