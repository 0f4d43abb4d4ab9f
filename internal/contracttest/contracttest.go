// Package contracttest checks real sidecar responses against the
// committed contract (docs/generated): status, headers and JSON bodies
// against openapi.json with github.com/pb33f/libopenapi-validator (an
// OpenAPI 3.1 validator on JSON Schema 2020-12), and every line of an
// NDJSON or zstd body against its record's schema in schemas/ with
// github.com/santhosh-tekuri/jsonschema/v6; and the calls the sidecar
// makes to an enterprise control plane against control-plane.openapi.json.
package contracttest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"arxi.dev/arxi/internal/schematest"
	"arxi.dev/arxi/pkg/sidecar/contract"
	"arxi.dev/arxi/pkg/zstdio"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/content"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/tidwall/gjson"
)

// Contract is a loaded contract directory.
type Contract struct {
	mu      sync.Mutex // the validator is not documented as safe for concurrent use
	v       validator.Validator
	records map[string]*jsonschema.Schema // by record kind, "unsealed" for lines without one
	problem *jsonschema.Schema
	ops     map[string]bool // "METHOD /path" of every operation, parameters as written
}

var (
	loadMu sync.Mutex
	loaded = map[string]*Contract{}
)

// Load loads the contract in dir once per process.
func Load(t testing.TB, dir string) *Contract {
	t.Helper()
	c, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// LoadDir is Load for callers without a testing.TB (a testscript
// command).
func LoadDir(dir string) (*Contract, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	abs, _ := filepath.Abs(dir)
	if c, ok := loaded[abs]; ok {
		return c, nil
	}
	c, err := load(abs)
	if err != nil {
		return nil, fmt.Errorf("load the contract in %s: %v", dir, err)
	}
	loaded[abs] = c
	return c, nil
}

func load(dir string) (*Contract, error) {
	spec, err := os.ReadFile(filepath.Join(dir, contract.OpenAPIFile))
	if err != nil {
		return nil, err
	}
	v, err := newValidator(contract.OpenAPIFile, spec)
	if err != nil {
		return nil, err
	}
	c := &Contract{v: v, records: map[string]*jsonschema.Schema{}, ops: map[string]bool{}}
	files, err := filepath.Glob(filepath.Join(dir, "schemas", "*.schema.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(f), ".schema.json")
		s, err := schematest.CompileJSON("file:///"+name, b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		c.records[name] = s
	}
	c.problem = c.records["problem"]
	for path, item := range gjson.GetBytes(spec, "paths").Map() {
		for method := range item.Map() {
			c.ops[strings.ToUpper(method)+" "+path] = true
		}
	}
	return c, nil
}

// newValidator loads an OpenAPI document (the file name) and checks that
// it is valid.
func newValidator(name string, spec []byte) (validator.Validator, error) {
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, err
	}
	// NDJSON and zstd bodies are text to the OpenAPI document (their lines
	// are checked against the record schemas here), so they decode as one
	// string.
	asText := content.DecoderFunc(func(in *content.DecodeInput) (any, error) {
		b, err := io.ReadAll(in.Body)
		return string(b), err
	})
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions(),
		config.WithBodyDecoder("application/x-ndjson", asText), config.WithBodyDecoder("application/zstd", asText),
		config.WithBodyDecoder("text/plain", asText))
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %v", name, errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %v", name, verrs)
	}
	return v, nil
}

// Record returns the schema of the record kind (a file of schemas/).
func (c *Contract) Record(kind string) *jsonschema.Schema { return c.records[kind] }

// matches reports whether the request names an operation of the
// contract: a path parameter matches one segment.
func (c *Contract) matches(method, path string) bool {
	for op := range c.ops {
		m, p, _ := strings.Cut(op, " ")
		if m != method {
			continue
		}
		if i := strings.IndexByte(p, '{'); i >= 0 {
			rest, ok := strings.CutPrefix(path, p[:i])
			if ok && rest != "" && !strings.Contains(rest, "/") {
				return true
			}
			continue
		}
		if p == path {
			return true
		}
	}
	return false
}

// Check validates one response to req: against the operation when the
// contract has one, as a 404 or 405 problem otherwise. Failures are
// reported on t.
func (c *Contract) Check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	for _, err := range c.Errors(req, status, header, body) {
		t.Errorf("%s %s → %d: the response breaks the contract: %v\n%s", req.Method, req.URL.Path, status, err, abbrev(body))
	}
}

// Errors returns why a response breaks the contract.
func (c *Contract) Errors(req *http.Request, status int, header http.Header, body []byte) []error {
	var errs []error
	if header.Get("X-Server-Correlation-Id") == "" {
		errs = append(errs, fmt.Errorf("no X-Server-Correlation-Id"))
	}
	ct := header.Get("Content-Type")
	if !c.matches(req.Method, req.URL.Path) {
		if status != 404 && status != 405 {
			return append(errs, fmt.Errorf("no operation %s %s, and the status is not 404 or 405", req.Method, req.URL.Path))
		}
		return append(errs, c.problemErr(status, ct, body)...)
	}
	resp := &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Request: req}
	c.mu.Lock()
	ok, verrs := c.v.ValidateHttpResponse(req, resp)
	c.mu.Unlock()
	if !ok && len(verrs) > 0 && (verrs[0].IsPathMissingError() || verrs[0].IsOperationMissingError()) && status == 404 {
		// A path parameter the validator does not match against a literal
		// path beside it (GET /v1/bundles/build is bundles.get with the
		// id "build"): a 404 problem all the same.
		return append(errs, c.problemErr(status, ct, body)...)
	}
	if !ok {
		for _, e := range verrs {
			errs = append(errs, fmt.Errorf("%s", describe(e)))
		}
	}
	switch {
	case strings.HasPrefix(ct, "application/problem+json"):
		errs = append(errs, c.problemErr(status, ct, body)...)
	case strings.HasPrefix(ct, "application/x-ndjson"):
		errs = append(errs, c.linesErr(body)...)
	case strings.HasPrefix(ct, "application/zstd"):
		var plain bytes.Buffer
		r, err := zstdio.NewReader(bytes.NewReader(body))
		if err == nil {
			_, err = io.Copy(&plain, r)
		}
		if err != nil {
			return append(errs, fmt.Errorf("zstd body: %v", err))
		}
		errs = append(errs, c.linesErr(plain.Bytes())...)
	}
	return errs
}

// problemErr checks a problem document and that its status is the
// response's.
func (c *Contract) problemErr(status int, ct string, body []byte) []error {
	if !strings.HasPrefix(ct, "application/problem+json") {
		return []error{fmt.Errorf("Content-Type %q, want application/problem+json", ct)}
	}
	if err := schematest.Validate(c.problem, body); err != nil {
		return []error{fmt.Errorf("problem: %v", err)}
	}
	if got := gjson.GetBytes(body, "status").Int(); got != int64(status) {
		return []error{fmt.Errorf("problem status %d in a %d response", got, status)}
	}
	return nil
}

// linesErr checks every line of an NDJSON body against its record's
// schema (selected by its "record" key).
func (c *Contract) linesErr(body []byte) []error { return c.Lines("", body) }

// Lines checks every line of NDJSON data against the schema of kind (a
// file of schemas/), or, with kind "", of each line's record (its
// "record" key; "unsealed" without one). Errors name the line.
func (c *Contract) Lines(kind string, data []byte) []error {
	var errs []error
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		k := kind
		if k == "" {
			if k = gjson.GetBytes(line, "record").String(); k == "" {
				k = "unsealed"
			}
		}
		s, ok := c.records[k]
		if !ok {
			errs = append(errs, fmt.Errorf("line %d: no schema for record %q", i+1, k))
			continue
		}
		if err := schematest.Validate(s, line); err != nil {
			errs = append(errs, fmt.Errorf("line %d (%s): %v", i+1, k, err))
		}
	}
	return errs
}

// ControlPlane is a loaded control-plane.openapi.json: the API the
// sidecar calls in enterprise mode.
type ControlPlane struct {
	mu sync.Mutex
	v  validator.Validator
}

var (
	cpMu     sync.Mutex
	cpLoaded = map[string]*ControlPlane{}
)

// LoadControlPlane loads dir's control-plane.openapi.json once per
// process.
func LoadControlPlane(t testing.TB, dir string) *ControlPlane {
	t.Helper()
	cpMu.Lock()
	defer cpMu.Unlock()
	abs, _ := filepath.Abs(dir)
	if c, ok := cpLoaded[abs]; ok {
		return c
	}
	spec, err := os.ReadFile(filepath.Join(abs, contract.ControlPlaneFile))
	if err != nil {
		t.Fatal(err)
	}
	v, err := newValidator(contract.ControlPlaneFile, spec)
	if err != nil {
		t.Fatalf("load the control-plane contract in %s: %v", dir, err)
	}
	c := &ControlPlane{v: v}
	cpLoaded[abs] = c
	return c
}

// RequestErrors returns why a call to the control plane (its path below
// the control plane's URL, its headers and body) breaks the contract.
func (c *ControlPlane) RequestErrors(r *http.Request, body []byte) []error {
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	c.mu.Lock()
	ok, verrs := c.v.ValidateHttpRequest(req)
	c.mu.Unlock()
	if ok {
		return nil
	}
	var errs []error
	for _, e := range verrs {
		errs = append(errs, fmt.Errorf("%s", describe(e)))
	}
	return errs
}

// describe is a validation error with its reason and schema errors.
func describe(e *verrors.ValidationError) string {
	msg := e.Message
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	for _, se := range e.SchemaValidationErrors {
		msg += "; " + se.FieldPath + ": " + se.Reason
	}
	return msg
}

// Dir is the contract of the module the test runs in: docs/generated
// beside the go.mod found from the working directory up.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "docs", "generated")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

func abbrev(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}
