package signing

import (
	"testing"

	"arxi.dev/arxi/internal/schematest"
)

// trustRootBeyondSchema names ParseTrustRoot's rejections a JSON Schema
// cannot state, and why.
var trustRootBeyondSchema = map[string]string{
	"key id mismatch":      "a hash of another key",
	"threshold above keys": "a bound that is another array's length",
}

// TestTrustRootSchema: a trust root ParseTrustRoot accepts validates, and
// what it rejects the schema rejects, but for trustRootBeyondSchema.
func TestTrustRootSchema(t *testing.T) {
	root := schematest.Compile(t, TrustRootSchema)
	good, cases := trustRootRejects()
	k, _ := Generate(nil)
	for _, in := range []string{good,
		trustRootJSON(`{"kind":"threshold","threshold":1}`, k.TrustedKey()),
		trustRootJSON(`{"kind":"all_must_sign"}`, k.TrustedKey())} {
		if _, err := ParseTrustRoot([]byte(in)); err != nil {
			t.Fatal(err)
		}
		if err := schematest.Validate(root, []byte(in)); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
	for _, tc := range cases {
		err := schematest.Validate(root, []byte(tc.in))
		if why, ok := trustRootBeyondSchema[tc.name]; ok {
			if err != nil {
				t.Errorf("%s: listed as beyond the schema (%s) but rejected: %v", tc.name, why, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: the schema accepts what ParseTrustRoot rejects: %s", tc.name, tc.in)
		}
	}
	entry := schematest.Compile(t, TrustedKeySchema)
	if err := schematest.Validate(entry, k.TrustedKey().AppendJCS(nil)); err != nil {
		t.Errorf("keygen's key entry: %v", err)
	}
}
