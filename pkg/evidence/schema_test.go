package evidence

import (
	"strings"
	"testing"

	"arxi.dev/arxi/internal/schematest"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/tidwall/gjson"
)

// beyondSchema names the decoder's rejections that a JSON Schema cannot
// state, and why: the schema accepts them, the decoder does not.
var beyondSchema = map[string]string{
	"actor too long":      "a label's limit is in bytes; JSON Schema counts characters",
	"unsorted signatures": "the order of an array",
}

// validators compiles each record schema once.
func validators(t testing.TB) map[Kind]*jsonschema.Schema {
	t.Helper()
	v := map[Kind]*jsonschema.Schema{}
	for _, s := range Schemas() {
		k, ok := ParseKind(s.Name)
		if !ok {
			t.Fatalf("schema %q names no record kind", s.Name)
		}
		v[k] = schematest.Compile(t, s)
	}
	return v
}

// schemaErr validates a record line against the schema its "record" key
// selects, as decodeObject selects its decoder; an unknown kind fails.
func schemaErr(v map[Kind]*jsonschema.Schema, line string) error {
	kind := KindUnsealed
	if r := gjson.Get(line, "record"); r.Exists() {
		k, ok := ParseKind(r.String())
		if !ok || r.Type != gjson.String {
			return errNoKind
		}
		kind = k
	}
	return schematest.Validate(v[kind], []byte(line))
}

var errNoKind = schematestError("no record kind")

type schematestError string

func (e schematestError) Error() string { return string(e) }

// TestSchemasAcceptRecords: every record this package writes validates
// against its schema.
func TestSchemasAcceptRecords(t *testing.T) {
	v := validators(t)
	for _, rec := range sampleRecords() {
		line := string(rec.AppendJCS(nil))
		if err := schemaErr(v, line); err != nil {
			t.Errorf("%s does not validate: %v\n%s", rec.Kind(), err, line)
		}
	}
	// The unsealed form as a client writes it: optional keys left out.
	if err := schemaErr(v, `{`+base+`}`); err != nil {
		t.Errorf("minimal unsealed envelope: %v", err)
	}
}

// TestSchemasRejectWhatDecodersReject: every input the decoder tests show
// rejected is rejected by the schema too, but for the rules named in
// beyondSchema, which the schema accepts.
func TestSchemasRejectWhatDecodersReject(t *testing.T) {
	v := validators(t)
	cases := append(append([]rejectCase{}, unsealedRejects...), sealedRejects()...)
	e := *sampleRecords()[3].(*Envelope)
	e.Signatures = []Signature{e.Signatures[1], e.Signatures[0]}
	cases = append(cases, rejectCase{name: "unsorted signatures", in: string(e.AppendJCS(nil))})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeJSON(t, tc.in, DefaultLimits); err == nil {
				t.Fatalf("the decoder accepts %s", tc.in)
			}
			err := schemaErr(v, tc.in)
			if why, ok := beyondSchema[tc.name]; ok {
				if err != nil {
					t.Fatalf("listed as beyond the schema (%s) but rejected: %v; remove it from beyondSchema", why, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("the schema accepts what the decoder rejects: %s", tc.in)
			}
		})
	}
}

// TestDecoderKeysAreSchemaKeys: the decoders' key lists are the schemas'.
func TestDecoderKeysAreSchemaKeys(t *testing.T) {
	for _, s := range Schemas() {
		for _, f := range s.Fields {
			if f.Value == nil {
				t.Errorf("%s.%s has no schema", s.Name, f.Key)
			}
		}
	}
	if got := strings.Join(EnvelopeSchema.Keys(), ","); got != strings.Join(envelopeKeys, ",") {
		t.Errorf("envelope keys %s", got)
	}
}

// FuzzSchemaAgrees: whatever the decoder accepts, the schema accepts;
// whatever the schema rejects, the decoder rejects. (The converse holds
// but for beyondSchema's rules and the hashes, which no schema checks.)
func FuzzSchemaAgrees(f *testing.F) {
	for _, rec := range sampleRecords() {
		f.Add(rec.AppendJCS(nil))
	}
	f.Add([]byte(`{` + base + `}`))
	for _, tc := range unsealedRejects {
		f.Add([]byte(tc.in))
	}
	v := validators(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := decodeJSON(t, string(line), DefaultLimits)
		if err != nil {
			return
		}
		if err := schemaErr(v, string(line)); err != nil {
			t.Fatalf("the decoder accepts a %s the schema rejects: %v\n%s", rec.Kind(), err, line)
		}
	})
}
