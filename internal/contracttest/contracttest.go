// Package contracttest checks real sidecar responses against the
// committed contract (docs/generated): the operation, status, headers,
// Content-Type and JSON body of every response against openapi.json with
// github.com/getkin/kin-openapi (OpenAPI 3.1; it validates a schema as
// JSON Schema 2020-12 with github.com/santhosh-tekuri/jsonschema/v6, or,
// where the schema refers to components and uses no keyword new in
// 2020-12, with its own validator; formats asserted either way), and
// every line of an NDJSON or zstd body and every problem against its
// record's schema in schemas/ with santhosh-tekuri/jsonschema; and the
// calls the sidecar makes to an enterprise control plane (operation,
// bearer token, headers, body) against control-plane.openapi.json.
package contracttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"arxi.dev/arxi/internal/schematest"
	"arxi.dev/arxi/pkg/sidecar/contract"
	"arxi.dev/arxi/pkg/zstdio"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/tidwall/gjson"
)

func init() {
	// NDJSON and zstd bodies are text to the OpenAPI document (their lines
	// are checked against the record schemas here), so they decode as one
	// string; kin-openapi decodes JSON and text/plain itself.
	asText := func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	}
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", asText)
	openapi3filter.RegisterBodyDecoder("application/zstd", asText)
}

// Contract is a loaded contract directory.
type Contract struct {
	api     *document
	records map[string]*jsonschema.Schema // by record kind, "unsealed" for lines without one
	problem *jsonschema.Schema
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
	doc, err := newDocument(contract.OpenAPIFile, spec)
	if err != nil {
		return nil, err
	}
	c := &Contract{api: doc, records: map[string]*jsonschema.Schema{}}
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
	if c.problem = c.records["problem"]; c.problem == nil {
		return nil, errors.New("no schemas/problem.schema.json")
	}
	return c, nil
}

// document is a loaded OpenAPI document and its operations' router.
type document struct {
	name   string
	router routers.Router
}

// newDocument loads an OpenAPI 3.1 document (the file name; it refers
// to nothing outside itself) and checks that it is valid: its objects and
// their fields, every $ref resolving, every schema's keywords of their
// types (type names, patterns that compile, schemas where a schema goes).
func newDocument(name string, spec []byte) (*document, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("%s is OpenAPI %s, not 3.1: its schemas would not be read as JSON Schema 2020-12", name, doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %v", name, err)
	}
	// Operations are matched on the request's path alone: the sidecar
	// listens anywhere, and the control plane's example server is not the
	// test's.
	doc.Servers = nil
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &document{name: name, router: r}, nil
}

// route is the operation of the contract a request names: its method
// and path, a path parameter matching one segment (GET /v1/bundles/build
// is bundles.get, POST /v1/bundles/build bundles.build).
func (d *document) route(req *http.Request) (*openapi3filter.RequestValidationInput, error) {
	route, params, err := d.router.FindRoute(req)
	if err != nil {
		return nil, err
	}
	return &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: options()}, nil
}

// options are the validation options of a request or a response: every
// error, an undeclared status is one, the bearer token of the document's
// security schemes checked, errors without the schema and value dumps.
func options() *openapi3filter.Options {
	o := &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true, AuthenticationFunc: authenticate}
	o.WithCustomSchemaErrorFunc(func(e *openapi3.SchemaError) string {
		if errors.Unwrap(e) != nil && e.Origin == nil { // the JSON Schema validator's, which names the path
			return e.Reason
		}
		msg := e.Reason
		if e.Origin != nil {
			msg = e.Origin.Error()
		}
		if p := e.JSONPointer(); len(p) > 0 {
			msg = "at /" + strings.Join(p, "/") + ": " + msg
		}
		return msg
	})
	return o
}

// authenticate checks the credentials a security scheme asks for: the
// contracts declare bearer tokens only (RFC 6750).
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	if s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return fmt.Errorf("security scheme %q: only http bearer is checked", in.SecuritySchemeName)
	}
	scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return fmt.Errorf("security scheme %q: no Authorization: Bearer token", in.SecuritySchemeName)
	}
	return nil
}

// flatten is err (a validation failure) as one error per violation.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if me, ok := err.(openapi3.MultiError); ok {
		var out []error
		for _, e := range me {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// Record returns the schema of the record kind (a file of schemas/).
func (c *Contract) Record(kind string) *jsonschema.Schema { return c.records[kind] }

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
	in, err := c.api.route(req)
	if err != nil {
		if status != 404 && status != 405 {
			return append(errs, fmt.Errorf("no operation %s %s (%v), and the status is not 404 or 405", req.Method, req.URL.Path, err))
		}
		return append(errs, c.problemErr(status, ct, body)...)
	}
	resp := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status,
		Header: declaredType(in.Route.Operation, status, header), Options: in.Options}
	resp.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), resp); err != nil {
		errs = append(errs, flatten(err)...)
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

// declaredType is header with the Content-Type replaced by the media
// type the response of status declares that it names, if any: the same
// type and subtype, and every parameter the declared one gives, with its
// value (kin-openapi would ask for the declared parameters and no more,
// and /metrics adds charset and escaping to its "text/plain;
// version=0.0.4"). A Content-Type that names none is left for
// kin-openapi to report.
func declaredType(op *openapi3.Operation, status int, header http.Header) http.Header {
	r := op.Responses.Status(status)
	if r == nil {
		r = op.Responses.Default()
	}
	if r == nil || r.Value == nil {
		return header
	}
	got, params, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil {
		return header
	}
	best, most := "", -1
next:
	for _, key := range slices.Sorted(maps.Keys(r.Value.Content)) {
		typ, want, err := mime.ParseMediaType(key)
		if err != nil || typ != got || len(want) <= most {
			continue
		}
		for k, v := range want {
			if params[k] != v {
				continue next
			}
		}
		best, most = key, len(want)
	}
	if best == "" {
		return header
	}
	h := header.Clone()
	h.Set("Content-Type", best)
	return h
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
type ControlPlane struct{ api *document }

var (
	cpMu     sync.Mutex
	cpLoaded = map[string]*ControlPlane{}
)

// LoadControlPlane loads dir's control-plane.openapi.json once per
// process.
func LoadControlPlane(t testing.TB, dir string) *ControlPlane {
	t.Helper()
	c, err := loadControlPlane(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// loadControlPlane is LoadControlPlane with its error returned.
func loadControlPlane(dir string) (*ControlPlane, error) {
	cpMu.Lock()
	defer cpMu.Unlock()
	abs, _ := filepath.Abs(dir)
	if c, ok := cpLoaded[abs]; ok {
		return c, nil
	}
	spec, err := os.ReadFile(filepath.Join(abs, contract.ControlPlaneFile))
	if err != nil {
		return nil, err
	}
	doc, err := newDocument(contract.ControlPlaneFile, spec)
	if err != nil {
		return nil, fmt.Errorf("load the control-plane contract in %s: %v", dir, err)
	}
	c := &ControlPlane{api: doc}
	cpLoaded[abs] = c
	return c, nil
}

// RequestErrors returns why a call to the control plane (its path below
// the control plane's URL, its headers and body) breaks the contract:
// no such operation, a parameter or header against its schema, no
// bearer token, a Content-Type the operation does not take, a body
// against its schema or missing where required.
func (c *ControlPlane) RequestErrors(r *http.Request, body []byte) []error {
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	in, err := c.api.route(req)
	if err != nil {
		return []error{fmt.Errorf("no operation %s %s in %s: %v", req.Method, req.URL.Path, c.api.name, err)}
	}
	return flatten(openapi3filter.ValidateRequest(context.Background(), in))
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
