// Package contract generates the sidecar's contract artifacts
// (SIDECAR.md §5) from the code, checks a directory of them for drift,
// and compares them with the baseline of a release for compatibility.
//
// # Artifacts
//
//	openapi.json           OpenAPI 3.1: every route of the router's table (api.RouteTable)
//	                       with its bodies, its problems by status, the bearer scheme,
//	                       Idempotency-Key on the mutating routes, the correlation and
//	                       enterprise headers
//	control-plane.openapi.json
//	                       OpenAPI 3.1 of the API the enterprise bridge calls (SIDECAR.md §4),
//	                       from its endpoints and request and answer types (enterprise.Endpoints)
//	schemas/NAME.schema.json
//	                       a JSON Schema 2020-12 of every record Arxi writes or reads,
//	                       from the declarations its decoders and encoders use (pkg/schema)
//	errors.json            the error registry (pkg/errcode): code, title, exit status, HTTP status
//	config.schema.json     the configuration file, from the config struct tags
//	sidecar.example.toml   arxi-sidecar config example
//	index.json             every other file with its SHA-256
//
// Generate makes the same bytes from the same code. Nothing here is
// written by hand: a new route, code, configuration key or record schema
// appears in the artifacts when they are generated again (arxi-sidecar
// contract generate), and a test fails until they are.
package contract

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/checkpoint"
	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/schema"
	"arxi.dev/arxi/pkg/sidecar/api"
	"arxi.dev/arxi/pkg/sidecar/config"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/verify"
)

// Records are the record schemas published under schemas/. To publish a
// record, add its schema to its package's Schemas (or here).
func Records() []*schema.Schema {
	return slices.Concat(
		evidence.Schemas(),
		bundle.Schemas(),
		signing.Schemas(),
		store.Schemas(),
		storesource.Schemas(),
		checkpoint.Schemas(),
		[]*schema.Schema{verify.VerdictSchema, api.ProblemSchema, cli.DiagnosticSchema},
	)
}

// The artifacts' names.
const (
	OpenAPIFile = "openapi.json"
	// ControlPlaneFile is the control-plane API of enterprise mode.
	ControlPlaneFile = "control-plane.openapi.json"
	ErrorsFile       = "errors.json"
	ConfigFile       = "config.schema.json"
	ExampleFile      = "sidecar.example.toml"
	IndexFile        = "index.json"
	SchemaDir        = "schemas"
	BaselineDir      = "baseline"
	SchemaSuffix     = ".schema.json"
)

// idBase is the base of the schemas' $id.
const idBase = "urn:arxi:schema:v1:"

// File is one artifact: its slash-separated name below the output root
// and its bytes.
type File struct {
	Name string
	Data []byte
}

// Generate returns every artifact, sorted by name.
func Generate() ([]File, error) {
	var files []File
	add := func(name string, v any) error {
		b, err := encode(v)
		if err != nil {
			return err
		}
		files = append(files, File{Name: name, Data: b})
		return nil
	}
	oa, err := OpenAPI()
	if err != nil {
		return nil, err
	}
	if err := add(OpenAPIFile, oa); err != nil {
		return nil, err
	}
	cp, err := ControlPlane()
	if err != nil {
		return nil, err
	}
	if err := add(ControlPlaneFile, cp); err != nil {
		return nil, err
	}
	if err := add(ErrorsFile, Errors()); err != nil {
		return nil, err
	}
	cfg, err := schema.Document(idBase+"sidecar_config", config.DocumentSchema())
	if err != nil {
		return nil, err
	}
	if err := add(ConfigFile, cfg); err != nil {
		return nil, err
	}
	files = append(files, File{Name: ExampleFile, Data: []byte(config.Example)})
	for _, s := range Records() {
		doc, err := schema.Document(idBase+s.Name, s)
		if err != nil {
			return nil, err
		}
		if err := add(SchemaDir+"/"+s.Name+SchemaSuffix, doc); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(files, func(a, b File) int { return compare(a.Name, b.Name) })
	idx := index{Files: []indexEntry{}}
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		idx.Files = append(idx.Files, indexEntry{Name: f.Name, SHA256: hex.EncodeToString(sum[:])})
	}
	if err := add(IndexFile, idx); err != nil {
		return nil, err
	}
	slices.SortFunc(files, func(a, b File) int { return compare(a.Name, b.Name) })
	return files, nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type index struct {
	Files []indexEntry `json:"files"`
}

type indexEntry struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// errorEntry is one code of errors.json.
type errorEntry struct {
	Code       string `json:"code"`
	Title      string `json:"title"`
	ExitStatus int    `json:"exit_status"`
	HTTPStatus int    `json:"http_status"`
}

// Errors is the content of errors.json: the registry in code order.
func Errors() map[string]any {
	codes := make([]errorEntry, len(errcode.Registry))
	for i, info := range errcode.Registry {
		codes[i] = errorEntry{Code: string(info.Code), Title: info.Description, ExitStatus: info.Exit, HTTPStatus: info.HTTP}
	}
	return map[string]any{
		"description": "The error registry (SPEC §12): each code's meaning, the exit status of the CLIs and the HTTP status of the sidecar's problem response.",
		"codes":       codes,
	}
}

// encode writes v as indented JSON with a final newline; keys of maps are
// sorted, so the bytes depend on v alone.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
