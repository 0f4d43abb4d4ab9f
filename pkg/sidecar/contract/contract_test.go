package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/schematest"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sidecar/api"
	"github.com/tidwall/gjson"
)

var update = flag.Bool("update", false, "regenerate docs/generated (never the baseline)")

const (
	committed = "../../../docs/generated"
	baseline  = committed + "/" + BaselineDir + "/v1"
)

// TestCommittedContract: docs/generated is what the code generates, so
// make test fails on drift. go test ./pkg/sidecar/contract -update (or
// arxi-sidecar contract generate) regenerates it.
func TestCommittedContract(t *testing.T) {
	if *update {
		if _, err := Write(committed); err != nil {
			t.Fatal(err)
		}
	}
	drift, err := Check(committed)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range drift {
		t.Errorf("docs/generated/%s: %s; run arxi-sidecar contract generate (or go test ./pkg/sidecar/contract -update)", d.Name, d.Reason)
	}
}

// TestDeterministic: two generations give the same bytes, and the index
// lists every other file with its SHA-256.
func TestDeterministic(t *testing.T) {
	a, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d files, then %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("%s differs between two generations", a[i].Name)
		}
	}
	var idx index
	for _, f := range a {
		if f.Name == IndexFile {
			json.Unmarshal(f.Data, &idx)
		}
	}
	if len(idx.Files) != len(a)-1 {
		t.Errorf("index lists %d files of %d", len(idx.Files), len(a)-1)
	}
}

// TestCheckNamesDrift: a changed, a missing and a foreign file are each
// named; a symlinked root or a symlink below it is refused by both Write
// and Check.
func TestCheckNamesDrift(t *testing.T) {
	dir := t.TempDir()
	if _, err := Write(dir); err != nil {
		t.Fatal(err)
	}
	if d, err := Check(dir); err != nil || len(d) != 0 {
		t.Fatalf("fresh: %v %v", d, err)
	}
	os.WriteFile(filepath.Join(dir, ErrorsFile), []byte("{}\n"), 0o644)
	os.Remove(filepath.Join(dir, SchemaDir, "seal"+SchemaSuffix))
	os.WriteFile(filepath.Join(dir, SchemaDir, "old"+SchemaSuffix), []byte("{}"), 0o644)
	os.MkdirAll(filepath.Join(dir, BaselineDir, "v1"), 0o755)
	os.WriteFile(filepath.Join(dir, BaselineDir, "v1", ErrorsFile), []byte("{}"), 0o644)
	d, err := Check(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Drift{{ErrorsFile, "differs"}, {"schemas/old.schema.json", "not generated"}, {"schemas/seal.schema.json", "missing"}}
	if !slices.Equal(d, want) {
		t.Errorf("Check = %v, want %v", d, want)
	}
	if _, err := Write(dir); err != nil {
		t.Fatal(err)
	}
	if d, _ := Check(dir); len(d) != 0 {
		t.Errorf("after Write: %v", d)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, BaselineDir, "v1", ErrorsFile)); string(b) != "{}" {
		t.Error("Write touched the baseline")
	}

	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(dir, link)
	inner := t.TempDir()
	os.Symlink(os.TempDir(), filepath.Join(inner, "schemas"))
	for _, root := range []string{link, inner} {
		if _, err := Write(root); errcode.CodeOf(err) != errcode.UsageInvalid {
			t.Errorf("Write(%s) = %v, want usage.invalid", root, err)
		}
		if _, err := Check(root); errcode.CodeOf(err) != errcode.UsageInvalid {
			t.Errorf("Check(%s) = %v, want usage.invalid", root, err)
		}
	}
}

func readPair(t *testing.T, dir string) (openapi, errors []byte) {
	t.Helper()
	o, err := os.ReadFile(filepath.Join(dir, OpenAPIFile))
	if err != nil {
		t.Fatal(err)
	}
	e, err := os.ReadFile(filepath.Join(dir, ErrorsFile))
	if err != nil {
		t.Fatal(err)
	}
	return o, e
}

func current(t *testing.T) (openapi, errors []byte) {
	t.Helper()
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		switch f.Name {
		case OpenAPIFile:
			openapi = f.Data
		case ErrorsFile:
			errors = f.Data
		}
	}
	return openapi, errors
}

// TestCompatibility is the gate of SIDECAR.md §5: the current OpenAPI and
// registry keep everything the v1 baseline promised, and so does the
// control-plane API once a baseline holds it (a file the baseline does not
// have is new: everything in it is an addition).
func TestCompatibility(t *testing.T) {
	bo, be := readPair(t, baseline)
	co, ce := current(t)
	problems, err := Compat(bo, co, be, ce)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if _, ok := reviewedBreaks[p]; ok {
			continue
		}
		t.Errorf("incompatible with the v1 baseline: %s", p)
	}
	bc, err := os.ReadFile(filepath.Join(baseline, ControlPlaneFile))
	if errors.Is(err, fs.ErrNotExist) {
		t.Logf("the v1 baseline has no %s: the control-plane API is an addition", ControlPlaneFile)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	problems, err = CompatControlPlane(bc, generated(t, ControlPlaneFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s is incompatible with the v1 baseline: %s", ControlPlaneFile, p)
	}
}

// generated is the file name as the code generates it.
func generated(t *testing.T, name string) []byte {
	t.Helper()
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Name == name {
			return f.Data
		}
	}
	t.Fatalf("%s is not generated", name)
	return nil
}

// reviewedBreaks are the changes the gate reports that a SPEC revision
// made on purpose, each with its reason; every other change still fails.
// docs/sidecar.md lists them.
var reviewedBreaks = map[string]string{
	// SPEC §9.1 (issue 10): a manifest's segment entries commit to the
	// segment's content, so a bundle built before is no longer accepted
	// by POST /v1/bundles/inspect and /v1/bundles/verify — accepting
	// entries without them would let a forged bundle keep a genuine
	// bundle's id.
	"components.schemas.manifest_segment: new key head_chain_hash is required in a request": "SPEC §9.1",
	"components.schemas.manifest_segment: new key merkle_root is required in a request":     "SPEC §9.1",
}

// TestCompatRules: each kind of breaking change fails the gate, and
// additions pass.
func TestCompatRules(t *testing.T) {
	co, ce := current(t)
	edit := func(doc []byte, f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(doc, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	paths := func(m map[string]any) map[string]any { return m["paths"].(map[string]any) }
	op := func(m map[string]any, path, method string) map[string]any {
		return paths(m)[path].(map[string]any)[method].(map[string]any)
	}
	schemas := func(m map[string]any) map[string]any {
		return m["components"].(map[string]any)["schemas"].(map[string]any)
	}
	props := func(m map[string]any, name string) map[string]any {
		return schemas(m)[name].(map[string]any)["properties"].(map[string]any)
	}
	for _, tc := range []struct {
		name   string
		cur    []byte
		errs   []byte
		breaks string
	}{
		{"route removed", edit(co, func(m map[string]any) { delete(paths(m), "/v1/segments/active") }), ce, "route removed"},
		{"operation renamed", edit(co, func(m map[string]any) { op(m, "/v1/segments", "post")["operationId"] = "segments.create" }), ce, "operationId"},
		{"status removed", edit(co, func(m map[string]any) {
			delete(op(m, "/v1/segments/seal", "post")["responses"].(map[string]any), "404")
		}), ce, "response 404 removed"},
		{"code removed from a status", edit(co, func(m map[string]any) {
			r := op(m, "/v1/segments/seal", "post")["responses"].(map[string]any)["404"].(map[string]any)
			r[ExtCodes] = []any{}
		}), ce, "no longer carries code segment.none_open"},
		{"field removed", edit(co, func(m map[string]any) { delete(props(m, "receipt"), "chain_hash") }), ce, "key chain_hash removed"},
		{"type changed", edit(co, func(m map[string]any) { props(m, "receipt")["sequence"].(map[string]any)["type"] = "string" }), ce, "type"},
		{"enum value removed", edit(co, func(m map[string]any) {
			props(m, "seal")["reason"].(map[string]any)["enum"] = []any{"manual"}
		}), ce, "enum value"},
		{"new required key", edit(co, func(m map[string]any) {
			s := schemas(m)["seal_request"].(map[string]any)
			s["properties"].(map[string]any)["why"] = map[string]any{"type": "string"}
			s["required"] = []any{"why"}
		}), ce, "new key why is required in a request"},
		{"mutating route without Idempotency-Key", edit(co, func(m map[string]any) {
			o := op(m, "/v1/segments", "post")
			var keep []any
			for _, p := range o["parameters"].([]any) {
				if !strings.HasSuffix(gjson.Get(mustJSON(p), `\$ref`).String(), "Idempotency-Key") {
					keep = append(keep, p)
				}
			}
			o["parameters"] = keep
		}), ce, "without an Idempotency-Key"},
		{"error code removed", co, []byte(strings.Replace(string(ce), `"code": "segment.sealed"`, `"code": "segment.closed"`, 1)), "code segment.sealed removed"},
		{"HTTP status changed", co, []byte(strings.Replace(string(ce), "\"http_status\": 409\n", "\"http_status\": 400\n", 1)), "HTTP status"},
		{"additions pass", edit(co, func(m map[string]any) {
			paths(m)["/v1/new"] = map[string]any{"get": map[string]any{"operationId": "new.read", "responses": map[string]any{}}}
			props(m, "receipt")["note"] = map[string]any{"type": "string"}
			props(m, "seal")["reason"].(map[string]any)["enum"] = append(props(m, "seal")["reason"].(map[string]any)["enum"].([]any), "lunar")
		}), []byte(strings.Replace(string(ce), `"codes": [`, `"codes": [{"code":"aaa.new","exit_status":3,"http_status":400,"title":"t"},`, 1)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems, err := Compat(co, tc.cur, ce, tc.errs)
			gate(t, problems, err, tc.breaks)
		})
	}
}

// TestCompatControlPlaneRules: in the control-plane API the roles are the
// other way round: a new required key breaks in an answer and passes in a
// request; removals break in both.
func TestCompatControlPlaneRules(t *testing.T) {
	cur := generated(t, ControlPlaneFile)
	edit := func(f func(schemas map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(cur, &m)
		f(m["components"].(map[string]any)["schemas"].(map[string]any))
		b, _ := json.Marshal(m)
		return b
	}
	addRequired := func(s map[string]any) {
		s["properties"].(map[string]any)["scope"] = map[string]any{"type": "string"}
		s["required"] = append(s["required"].([]any), "scope")
	}
	for _, tc := range []struct {
		name   string
		cur    []byte
		breaks string
	}{
		{"new required key in the answer", edit(func(s map[string]any) { addRequired(s["decision"].(map[string]any)) }), "new key scope is required"},
		{"new required key in a request", edit(func(s map[string]any) { addRequired(s["hook_request"].(map[string]any)) }), ""},
		{"decision value removed", edit(func(s map[string]any) {
			s["decision"].(map[string]any)["properties"].(map[string]any)["decision"].(map[string]any)["enum"] = []any{"allow"}
		}), "enum value \"deny\" removed"},
		{"answer key removed", edit(func(s map[string]any) {
			delete(s["decision"].(map[string]any)["properties"].(map[string]any), "reason")
		}), "key reason removed"},
		{"request key removed", edit(func(s map[string]any) {
			delete(s["authorize_request"].(map[string]any)["properties"].(map[string]any), "namespace_id")
		}), "key namespace_id removed"},
		{"a phase removed", edit(func(s map[string]any) {
			s["hook_request"].(map[string]any)["properties"].(map[string]any)["phase"].(map[string]any)["enum"] = []any{"result"}
		}), "enum value \"admission\" removed"},
		{"path removed", []byte(strings.Replace(string(cur), `"/v1/enterprise/sidecar/hooks"`, `"/v1/enterprise/sidecar/hook"`, 1)), "route removed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems, err := CompatControlPlane(cur, tc.cur)
			gate(t, problems, err, tc.breaks)
		})
	}
}

// gate checks what the compatibility gate found: nothing for an addition
// (breaks ""), else a problem containing breaks.
func gate(t *testing.T, problems []string, err error, breaks string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(problems, "\n")
	switch {
	case breaks == "" && len(problems) > 0:
		t.Errorf("an addition fails the gate:\n%s", got)
	case breaks != "" && !strings.Contains(got, breaks):
		t.Errorf("the gate found %q, want a problem containing %q", got, breaks)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestSchemasCompile: every generated schema is a valid 2020-12 schema
// (the validator compiles it against the meta-schema).
func TestSchemasCompile(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasSuffix(f.Name, SchemaSuffix) && f.Name != ConfigFile {
			continue
		}
		if _, err := schematest.CompileJSON("urn:test:"+f.Name, f.Data); err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
}

// TestVocabulary holds the vocabulary (pkg/sidecar/api/vocabulary.go, the
// one Go home of each list, SIDECAR.md §4) and the committed contract to
// each other: the operationIds, the headers, the enterprise codes, the
// readiness reasons, the authentication methods and, in the control-plane
// API, its paths, the decision values, the decision outcomes, the hook
// phases and outcomes and the operation labels are exactly the
// vocabulary's, so that a name added, removed or respelled on either side
// fails here.
func TestVocabulary(t *testing.T) {
	v := api.Vocabulary()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(committed, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	oa, cp, reg := read(OpenAPIFile), read(ControlPlaneFile), read(ErrorsFile)
	same := func(what string, got, want []string) {
		t.Helper()
		g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
		if !slices.Equal(g, w) {
			t.Errorf("%s: the contract has %q\n\tthe vocabulary %q", what, got, want)
		}
	}
	strs := func(r gjson.Result) []string {
		var out []string
		for _, e := range r.Array() {
			out = append(out, e.String())
		}
		return out
	}
	keys := func(r gjson.Result) []string {
		var out []string
		for k := range r.Map() {
			out = append(out, k)
		}
		return out
	}

	var opIDs, intercepted []string
	ops := map[string]gjson.Result{}
	for _, item := range gjson.GetBytes(oa, "paths").Map() {
		for _, o := range item.Map() {
			id := o.Get("operationId").String()
			opIDs = append(opIDs, id)
			ops[id] = o
		}
	}
	same("operationId", opIDs, v.Operations)
	same("header", append(keys(gjson.GetBytes(oa, "components.parameters")), keys(gjson.GetBytes(oa, "components.headers"))...),
		append(v.Headers, api.HeaderCorrelationID)) // X-Correlation-Id is a request parameter and a response header
	var enterprise []string
	for _, c := range gjson.GetBytes(reg, "codes.#.code").Array() {
		if strings.HasPrefix(c.String(), api.EnterprisePrefix) {
			enterprise = append(enterprise, c.String())
		}
	}
	var want []string
	for _, c := range v.EnterpriseCodes {
		want = append(want, string(c))
	}
	same("enterprise code of errors.json", enterprise, want)
	for _, rt := range api.RouteTable() {
		var codes []string
		ops[rt.Operation].Get("responses").ForEach(func(_, r gjson.Result) bool {
			for _, c := range strs(r.Get(ExtCodes)) {
				if strings.HasPrefix(c, api.EnterprisePrefix) {
					codes = append(codes, c)
				}
			}
			return true
		})
		if rt.Intercepted() {
			intercepted = append(intercepted, rt.Operation)
			same(rt.Operation+"'s enterprise codes", codes, want)
		} else if len(codes) > 0 {
			t.Errorf("%s is not intercepted, yet answers with %v", rt.Operation, codes)
		}
	}
	reasons, ok := strings.CutPrefix(gjson.GetBytes(oa, "components.schemas.problem.properties.reasons.description").String(), "why the sidecar is not ready: ")
	if !ok {
		t.Error("the problem's reasons do not list the readiness reasons")
	}
	same("readiness reason", strings.Split(reasons, ", "), v.Reasons)
	same("X-Authn-Method", strs(gjson.GetBytes(oa, "components.parameters.X-Authn-Method.schema.enum")), v.AuthnMethods)
	for _, h := range []string{"components.parameters.X-Arxi-Writer-Lease.schema.const", "components.headers.Idempotency-Replayed.schema.const"} {
		if got := gjson.GetBytes(oa, h).String(); got != v.HeaderTrue {
			t.Errorf("%s = %q, want %q", h, got, v.HeaderTrue)
		}
	}

	same("control-plane path", keys(gjson.GetBytes(cp, "paths")), v.ControlPlane)
	s := gjson.GetBytes(cp, "components.schemas")
	same("decision", strs(s.Get("decision.properties.decision.enum")), v.Answers)
	same("x-arxi-outcomes", keys(gjson.GetBytes(cp, `paths.`+gjson.Escape(api.PathAuthorize)+`.post.`+ExtOutcomes)), v.Decisions)
	same("hook phase", strs(s.Get("hook_request.properties.phase.enum")), v.Phases)
	same("hook outcome", strs(s.Get("hook_request.properties.outcome.enum")), v.Outcomes)
	same("authorize authn_method", strs(s.Get("authorize_request.properties.authn_method.enum")), v.AuthnMethods)
	same("authorize operation", strs(s.Get("authorize_request.properties.operation.enum")), intercepted)
	same("hook operation", strs(s.Get("hook_request.properties.operation.enum")), intercepted)
	for o, c := range gjson.GetBytes(cp, `paths.`+gjson.Escape(api.PathAuthorize)+`.post.`+ExtOutcomes).Map() {
		if c.Type != gjson.Null && !slices.Contains(want, c.String()) {
			t.Errorf("the decision outcome %s answers with %s, not an enterprise code", o, c)
		}
	}
}
