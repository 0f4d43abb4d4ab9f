package contracttest

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/sidecar/contract"
	"arxi.dev/arxi/pkg/zstdio"
)

const (
	digest  = `"sha256:0000000000000000000000000000000000000000000000000000000000000000"`
	uuid    = "0190a000-0000-7000-8000-000000000000"
	segment = `{"created_at":"2026-11-22T09:00:00.000000000Z","envelope_count":13,"genesis_hash":` + digest +
		`,"head_chain_hash":` + digest + `,"predecessor_segment_id":null,"record":"segment","recorder_id":"recorder-test",` +
		`"seal_reason":null,"sealed_at":null,"segment_id":"` + uuid + `","state":"open"}`
	manifest = `{"attachments":[],"bundle_id":"` + uuid + `","bundle_version":1,"hash_algorithm":"sha256",` +
		`"omitted_parents":[],"record":"manifest","segments":[],"selector":{"all":true}}`
)

// list is a page of bundles.
const list = `{"bundles":[{"bundle_id":"` + uuid + `","envelope_count":3,"sealed_at":"2026-11-22T09:05:00.000000000Z",` +
	`"segment_id":"` + uuid + `"}],"next_cursor":null}`

// problem is a problem document of code and status.
func problem(code string, status int) string {
	return `{"code":"` + code + `","correlation_id":"c","detail":"d","status":` + strconv.Itoa(status) +
		`,"title":"t","type":"urn:arxi:error:` + code + `"}`
}

// sealed is the segment sealed.
var sealed = strings.NewReplacer(`"seal_reason":null`, `"seal_reason":"manual"`,
	`"sealed_at":null`, `"sealed_at":"2026-11-22T09:05:00Z"`, `"state":"open"`, `"state":"sealed"`).Replace(segment)

func zstd(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	w, err := zstdio.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestDocuments: both committed documents load, and a document broken in
// any of these ways is refused.
func TestDocuments(t *testing.T) {
	dir := Dir(t)
	for _, file := range []string{contract.OpenAPIFile, contract.ControlPlaneFile} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newDocument(file, b); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := os.ReadFile(filepath.Join(dir, contract.OpenAPIFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"OpenAPI 3.0", `"openapi": "3.1.0"`, `"openapi": "3.0.3"`, "not 3.1"},
		{"unknown type", `"type": "integer"`, `"type": "integr"`, `"integr"`},
		{"unknown type in a type array", `"type": [`, `"type": ["bogus", `, `"bogus"`},
		{"pattern not a regular expression", `"pattern": "^sha256:[0-9a-f]{64}$"`, `"pattern": "^sha256:[0-9a-f]{64$("`, "regexp"},
		{"$ref to nothing", `"$ref": "#/components/schemas/uuid7"`, `"$ref": "#/components/schemas/nouuid"`, "nouuid"},
		{"operation field misspelled", `"responses": {`, `"responsez": {`, "responsez"},
		{"parameter location", `"in": "header"`, `"in": "hedder"`, "hedder"},
		{"if not a schema", `"if": {`, `"if": 3, "x-if": {`, "if"},
		{"additionalProperties not a schema", `"additionalProperties": false`, `"additionalProperties": 7`, "additionalProp"},
		{"minLength not a number", `"minLength": 1,`, `"minLength": "x",`, "minLength"},
		{"oneOf member not a schema", `"oneOf": [`, `"oneOf": [3, `, "oneOf"},
		{"description not a string", `"description": "OK",`, `"description": 7,`, "description"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Replace(spec, []byte(c.old), []byte(c.new), 1)
			if bytes.Equal(b, spec) {
				t.Fatalf("no %s in %s", c.old, contract.OpenAPIFile)
			}
			_, err := newDocument(contract.OpenAPIFile, b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%s → %v, want an error naming %s", c.new, err, c.want)
			}
		})
	}
}

type response struct {
	name, method, path string
	status             int
	header             []string // "Key: value"; "Key: " deletes
	body               string
	want               string // a substring of one error; "" for none
}

// TestResponses: responses that keep the contract pass, and each kind of
// violation is caught.
func TestResponses(t *testing.T) {
	c := Load(t, Dir(t))
	bundle := manifest + "\n"
	for _, r := range []response{
		{name: "segment", method: "GET", path: "/v1/segments/active", status: 200, body: segment},
		{name: "sealed segment", method: "GET", path: "/v1/segments/active", status: 200, body: sealed},
		{name: "probe", method: "GET", path: "/health", status: 200, body: `{"status":"ok"}`},
		{name: "manifest", method: "POST", path: "/v1/bundles/inspect", status: 200, body: manifest},
		{name: "problem", method: "GET", path: "/v1/segments/active", status: 404, body: problem("segment.none_open", 404)},
		{name: "NDJSON", method: "GET", path: "/v1/bundles/" + uuid, status: 200, body: bundle},
		{name: "zstd", method: "GET", path: "/v1/bundles/" + uuid, status: 200, body: zstd(t, bundle),
			header: []string{"Content-Type: application/zstd"}},
		{name: "literal segment is a parameter", method: "GET", path: "/v1/bundles/build", status: 404, body: problem("bundle.not_found", 404)},
		{name: "bundle list", method: "GET", path: "/v1/bundles", status: 200, body: list},
		{name: "metrics with a charset", method: "GET", path: "/metrics", status: 200, body: "a 1\n",
			header: []string{"Content-Type: text/plain; version=0.0.4; charset=utf-8; escaping=underscores"}},
		{name: "unknown path", method: "GET", path: "/v2/nothing", status: 404, body: problem("request.not_found", 404)},
		{name: "unknown method", method: "DELETE", path: "/health", status: 405, body: problem("request.method_not_allowed", 405)},

		{name: "undeclared status", method: "GET", path: "/v1/segments/active", status: 299, body: segment, want: "status is not supported"},
		{name: "no server correlation id", method: "GET", path: "/health", status: 200, body: `{"status":"ok"}`,
			header: []string{"X-Server-Correlation-Id: "}, want: "no X-Server-Correlation-Id"},
		{name: "header against its schema", method: "GET", path: "/health", status: 200, body: `{"status":"ok"}`,
			header: []string{"X-Server-Correlation-Id: 0190a000-0000-4000-8000-000000000000"}, want: `"X-Server-Correlation-Id"`},
		{name: "echoed header against its schema", method: "GET", path: "/health", status: 200, body: `{"status":"ok"}`,
			header: []string{"X-Correlation-Id: \x01"}, want: `"X-Correlation-Id"`},
		{name: "undeclared Content-Type", method: "GET", path: "/health", status: 200, body: `{"status":"ok"}`,
			header: []string{"Content-Type: text/html"}, want: "Content-Type"},
		{name: "no Content-Type", method: "GET", path: "/health", status: 200, body: `{"status":"ok"}`,
			header: []string{"Content-Type: "}, want: "Content-Type"},
		{name: "a declared parameter differs", method: "GET", path: "/metrics", status: 200, body: "a 1\n",
			header: []string{"Content-Type: text/plain; version=0.0.5"}, want: "Content-Type"},
		{name: "not JSON", method: "GET", path: "/health", status: 200, body: `{"status":`, want: "decode response body"},
		{name: "enum", method: "GET", path: "/health", status: 200, body: `{"status":"fine"}`, want: "/status"},
		{name: "const", method: "GET", path: "/v1/segments/active", status: 200,
			body: strings.Replace(segment, `"record":"segment"`, `"record":"seg"`, 1), want: "/record"},
		{name: "type array", method: "GET", path: "/v1/segments/active", status: 200,
			body: strings.Replace(segment, `"seal_reason":null`, `"seal_reason":3`, 1), want: "/seal_reason"},
		{name: "enum with null", method: "GET", path: "/v1/segments/active", status: 200,
			body: strings.Replace(segment, `"seal_reason":null`, `"seal_reason":"bored"`, 1), want: "/seal_reason"},
		{name: "oneOf and not", method: "GET", path: "/v1/segments/active", status: 200,
			body: strings.Replace(segment, `"seal_reason":null`, `"seal_reason":"manual"`, 1), want: "/seal_reason"},
		{name: "additionalProperties", method: "GET", path: "/v1/segments/active", status: 200,
			body: strings.Replace(segment, `{`, `{"extra":1,`, 1), want: "extra"},
		{name: "required", method: "GET", path: "/v1/segments/active", status: 200,
			body: strings.Replace(segment, `"state":"open"`, `"status":"open"`, 1), want: "state"},
		{name: "format", method: "GET", path: "/v1/segments/active", status: 200,
			body: strings.Replace(sealed, `2026-11-22T09:05:00Z`, `2026-02-29T09:05:00Z`, 1), want: "date-time"},
		{name: "pattern through a $ref", method: "GET", path: "/v1/segments/active", status: 200,
			body: strings.Replace(segment, `"segment_id":"0190a000-0000-7000`, `"segment_id":"0190a000-0000-4000`, 1), want: "/segment_id"},
		{name: "minimum", method: "GET", path: "/v1/segments/active", status: 200,
			body: strings.Replace(segment, `"envelope_count":13`, `"envelope_count":-1`, 1), want: "/envelope_count"},
		{name: "if and then", method: "POST", path: "/v1/bundles/inspect", status: 200,
			body: strings.Replace(manifest, `{"all":true}`, `{"all":true,"since":"2026-11-22T09:05:00Z"}`, 1), want: "/selector"},
		{name: "minProperties", method: "POST", path: "/v1/bundles/inspect", status: 200,
			body: strings.Replace(manifest, `{"all":true}`, `{}`, 1), want: "/selector"},
		{name: "uniqueItems", method: "POST", path: "/v1/bundles/inspect", status: 200,
			body: strings.Replace(manifest, `"omitted_parents":[]`, `"omitted_parents":["`+uuid+`","`+uuid+`"]`, 1), want: "/omitted_parents"},
		// kin-openapi validates a schema that refers to components and uses
		// no keyword new in JSON Schema 2020-12 with its own validator.
		{name: "format, component refs only", method: "GET", path: "/v1/bundles", status: 200,
			body: strings.Replace(list, `2026-11-22`, `2026-02-29`, 1), want: "date-time"},
		{name: "pattern, component refs only", method: "GET", path: "/v1/bundles", status: 200,
			body: strings.Replace(list, `"bundle_id":"0190a000-0000-7000`, `"bundle_id":"0190a000-0000-4000`, 1), want: "bundle_id"},
		{name: "oneOf with null, component refs only", method: "GET", path: "/v1/bundles", status: 200,
			body: strings.Replace(list, `"next_cursor":null`, `"next_cursor":7`, 1), want: "next_cursor"},
		{name: "additionalProperties, component refs only", method: "GET", path: "/v1/bundles", status: 200,
			body: strings.Replace(list, `"envelope_count":3`, `"envelope_count":3,"x":1`, 1), want: "x"},
		{name: "required, component refs only", method: "GET", path: "/v1/bundles", status: 200,
			body: strings.Replace(list, `"envelope_count":3,`, ``, 1), want: "envelope_count"},
		{name: "integer, component refs only", method: "GET", path: "/v1/bundles", status: 200,
			body: strings.Replace(list, `"envelope_count":3`, `"envelope_count":3.5`, 1), want: "envelope_count"},
		{name: "problem code of another status", method: "GET", path: "/v1/segments/active", status: 404,
			body: problem("internal", 404), want: "/code"},
		{name: "problem status not the response's", method: "GET", path: "/v1/segments/active", status: 404,
			body: problem("segment.none_open", 400), want: "/status"},
		{name: "NDJSON line", method: "GET", path: "/v1/bundles/" + uuid, status: 200,
			body: strings.Replace(bundle, `"bundle_version":1`, `"bundle_version":2`, 1), want: "line 1 (manifest)"},
		{name: "NDJSON line of no record", method: "GET", path: "/v1/bundles/" + uuid, status: 200,
			body: bundle + `{"record":"nothing"}` + "\n", want: `line 2: no schema for record "nothing"`},
		{name: "zstd line", method: "GET", path: "/v1/bundles/" + uuid, status: 200,
			body: zstd(t, strings.Replace(bundle, `"bundle_version":1`, `"bundle_version":2`, 1)), want: "line 1 (manifest)",
			header: []string{"Content-Type: application/zstd"}},
		{name: "not zstd", method: "GET", path: "/v1/bundles/" + uuid, status: 200, body: bundle, want: "zstd body",
			header: []string{"Content-Type: application/zstd"}},
		{name: "unknown path answered", method: "GET", path: "/v2/nothing", status: 200, body: `{"status":"ok"}`, want: "no operation GET /v2/nothing"},
		{name: "unknown method answered", method: "DELETE", path: "/health", status: 200, body: `{"status":"ok"}`, want: "no operation DELETE /health"},
		{name: "unknown path without a problem", method: "GET", path: "/v2/nothing", status: 404, body: `{"status":"ok"}`,
			want: "want application/problem+json"},
		{name: "unknown path, a problem of another status", method: "GET", path: "/v2/nothing", status: 404,
			body: problem("request.not_found", 400), want: "problem status 400 in a 404 response"},
		{name: "unknown path, not a problem", method: "GET", path: "/v2/nothing", status: 404,
			body: `{"status":404}`, header: []string{"Content-Type: application/problem+json"}, want: "problem:"},
	} {
		t.Run(r.name, func(t *testing.T) {
			req, err := http.NewRequest(r.method, "http://127.0.0.1:1"+r.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{"X-Server-Correlation-Id": {uuid}, "Content-Type": {"application/json"}}
			switch {
			case strings.HasPrefix(r.body, `{"code"`):
				h.Set("Content-Type", "application/problem+json")
			case strings.HasPrefix(r.path, "/v1/bundles/0") && r.status == 200:
				h.Set("Content-Type", "application/x-ndjson")
			}
			for _, kv := range r.header {
				k, v, _ := strings.Cut(kv, ": ")
				if v == "" {
					h.Del(k)
				} else {
					h.Set(k, v)
				}
			}
			errs := c.Errors(req, r.status, h, []byte(r.body))
			check(t, errs, r.want)
		})
	}
}

// check fails t unless errs is empty (want "") or one of them names want.
func check(t *testing.T, errs []error, want string) {
	t.Helper()
	if want == "" {
		if len(errs) > 0 {
			t.Fatalf("breaks the contract: %v", errors.Join(errs...))
		}
		return
	}
	for _, err := range errs {
		if strings.Contains(err.Error(), want) {
			return
		}
	}
	t.Fatalf("errors %v, want one naming %q", errs, want)
}

// TestControlPlane: the calls the sidecar makes that keep
// control-plane.openapi.json pass, and each kind of violation is caught.
func TestControlPlane(t *testing.T) {
	cp := LoadControlPlane(t, Dir(t))
	const (
		authorize = `{"authn_method":"token","correlation_id":"c","namespace_id":null,"operation":"segments.open","principal_id":"p","tenant_id":"t"}`
		admission = `{"correlation_id":"c","envelope_ids":[],"operation":"segments.open","outcome":"admitted","phase":"admission","principal_id":"p","status":null,"tenant_id":"t"}`
		result    = `{"correlation_id":"c","envelope_ids":["` + uuid + `"],"operation":"envelopes.record","outcome":"succeeded","phase":"result","principal_id":"p","status":201,"tenant_id":"t"}`
	)
	for _, c := range []struct {
		name, method, path, body string
		header                   []string
		want                     string
	}{
		{name: "authorize", method: "POST", path: "/v1/enterprise/sidecar/authorize", body: authorize},
		{name: "admission hook", method: "POST", path: "/v1/enterprise/sidecar/hooks", body: admission},
		{name: "result hook", method: "POST", path: "/v1/enterprise/sidecar/hooks", body: result},
		{name: "ready", method: "GET", path: "/v1/enterprise/sidecar/ready"},

		{name: "unknown path", method: "POST", path: "/v1/enterprise/sidecar/authorise", body: authorize, want: "no operation"},
		{name: "unknown method", method: "GET", path: "/v1/enterprise/sidecar/authorize", want: "no operation"},
		{name: "no token", method: "POST", path: "/v1/enterprise/sidecar/authorize", body: authorize,
			header: []string{"Authorization: "}, want: "Bearer"},
		{name: "not a bearer token", method: "POST", path: "/v1/enterprise/sidecar/authorize", body: authorize,
			header: []string{"Authorization: Basic eDp5"}, want: "Bearer"},
		{name: "no body", method: "POST", path: "/v1/enterprise/sidecar/authorize", want: "body"},
		{name: "undeclared Content-Type", method: "POST", path: "/v1/enterprise/sidecar/authorize", body: authorize,
			header: []string{"Content-Type: text/plain"}, want: "text/plain"},
		{name: "not JSON", method: "POST", path: "/v1/enterprise/sidecar/authorize", body: `{"authn_method"`, want: "body"},
		{name: "body field against its enum", method: "POST", path: "/v1/enterprise/sidecar/authorize",
			body: strings.Replace(authorize, `"segments.open"`, `"segments.close"`, 1), want: "/operation"},
		{name: "body field against a $ref's pattern", method: "POST", path: "/v1/enterprise/sidecar/authorize",
			body: strings.Replace(authorize, `"principal_id":"p"`, `"principal_id":" "`, 1), want: "principal_id"},
		{name: "body field against oneOf with null", method: "POST", path: "/v1/enterprise/sidecar/authorize",
			body: strings.Replace(authorize, `"namespace_id":null`, `"namespace_id":""`, 1), want: "namespace_id"},
		{name: "body field missing", method: "POST", path: "/v1/enterprise/sidecar/authorize",
			body: strings.Replace(authorize, `"namespace_id":null,`, ``, 1), want: "namespace_id"},
		{name: "body field against a type array", method: "POST", path: "/v1/enterprise/sidecar/hooks",
			body: strings.Replace(result, `"status":201`, `"status":"201"`, 1), want: "/status"},
		{name: "body against if and then", method: "POST", path: "/v1/enterprise/sidecar/hooks",
			body: strings.Replace(admission, `"outcome":"admitted"`, `"outcome":"succeeded"`, 1), want: "/outcome"},
		{name: "body against if and else", method: "POST", path: "/v1/enterprise/sidecar/hooks",
			body: strings.Replace(result, `"outcome":"succeeded"`, `"outcome":"admitted"`, 1), want: "/outcome"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := http.NewRequest(c.method, c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Authorization", "Bearer cp-token")
			if c.body != "" {
				r.Header.Set("Content-Type", "application/json")
			}
			for _, kv := range c.header {
				k, v, _ := strings.Cut(kv, ": ")
				if v == "" {
					r.Header.Del(k)
				} else {
					r.Header.Set(k, v)
				}
			}
			check(t, cp.RequestErrors(r, []byte(c.body)), c.want)
		})
	}
}
