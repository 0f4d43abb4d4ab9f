// Package schematest validates JSON against the schemas of pkg/schema with
// a maintained JSON Schema 2020-12 validator
// (github.com/santhosh-tekuri/jsonschema/v6, formats asserted), for the
// tests that prove the schemas and the code agree.
package schematest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"arxi.dev/arxi/pkg/schema"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Compile compiles s as a standalone schema document.
func Compile(t testing.TB, s *schema.Schema) *jsonschema.Schema {
	t.Helper()
	doc, err := schema.Document("urn:arxi:test:"+s.Name, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := CompileJSON("urn:arxi:test:"+s.Name, b)
	if err != nil {
		t.Fatalf("compile %s: %v\n%s", s.Name, err, b)
	}
	return sch
}

// CompileJSON compiles the schema document doc, known by url.
func CompileJSON(url string, doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(url, v); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// Validate reports why the JSON text data does not validate against sch,
// or nil.
func Validate(sch *jsonschema.Schema, data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(v)
}
