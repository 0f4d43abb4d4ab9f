package contract

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/schema"
	"arxi.dev/arxi/pkg/sidecar/api"
	"arxi.dev/arxi/pkg/sidecar/config"
	"arxi.dev/arxi/pkg/store"
)

// OpenAPIVersion is the OpenAPI version of openapi.json.
const OpenAPIVersion = "3.1.0"

// The extensions openapi.json carries beside the standard fields.
const (
	// ExtMutating marks an operation that writes evidence.
	ExtMutating = "x-arxi-mutating"
	// ExtLine is the schema of each line of an application/x-ndjson body.
	ExtLine = "x-arxi-line-schema"
	// ExtCodes lists the problem codes of a response status.
	ExtCodes = "x-arxi-codes"
)

const description = `The Arxi sidecar's HTTP/JSON API (SIDECAR.md §2-3), on a Unix socket or TCP. ` +
	`Every error is an RFC 9457 problem (application/problem+json) whose code is one of errors.json; each response lists the codes its status can carry ` +
	`(x-arxi-codes). A path the API does not have answers 404 request.not_found, a method a path does not take 405 request.method_not_allowed with Allow. ` +
	`Bodies of application/x-ndjson are one JSON record per line; x-arxi-line-schema is the schema of each line. ` +
	`The probes need no token; /metrics needs none on a Unix socket.`

// OpenAPI returns the OpenAPI document of the router's table.
func OpenAPI() (map[string]any, error) {
	set := schema.NewSet(func(name string) string { return "#/components/schemas/" + name })
	for _, s := range Records() {
		if err := set.Add(s); err != nil {
			return nil, err
		}
	}
	params, headers := map[string]any{}, map[string]any{}
	for _, h := range api.Headers {
		r, err := set.Render(h.Schema)
		if err != nil {
			return nil, err
		}
		if h.Request {
			params[h.Name] = map[string]any{"name": h.Name, "in": "header", "description": h.Description, "schema": r}
		} else {
			headers[h.Name] = map[string]any{"description": h.Description, "schema": r}
		}
	}
	paths := map[string]any{}
	for _, rt := range api.RouteTable() {
		op, err := operation(set, &rt)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", rt.Method, rt.Path, err)
		}
		addOperation(paths, rt.Method, rt.Path, op)
	}
	doc := document("arxi-sidecar", description, paths, set,
		"auth.mode = \"token\": the token of auth.token_file, compared in constant time (RFC 6750). auth.mode = \"open\" (Unix socket or loopback only) takes none.")
	components := doc["components"].(map[string]any)
	components["parameters"], components["headers"] = params, headers
	return doc, nil
}

// addOperation puts op in paths at path and method.
func addOperation(paths map[string]any, method, path string, op map[string]any) {
	item, _ := paths[path].(map[string]any)
	if item == nil {
		item = map[string]any{}
		paths[path] = item
	}
	item[strings.ToLower(method)] = op
}

// document is an OpenAPI document of paths, with the component schemas
// of set, secured by a bearer token (bearer describes it).
func document(title, description string, paths map[string]any, set *schema.Set, bearer string) map[string]any {
	return map[string]any{
		"openapi":           OpenAPIVersion,
		"jsonSchemaDialect": schema.Dialect,
		"info": map[string]any{
			"title":       title,
			"version":     config.APIVersion,
			"description": description,
		},
		"security": []any{map[string]any{"bearer": []any{}}},
		"paths":    paths,
		"components": map[string]any{
			"schemas":         set.Defs(),
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": bearer}},
		},
	}
}

// operation is the OpenAPI operation of rt.
func operation(set *schema.Set, rt *api.Route) (map[string]any, error) {
	ct := rt.Contract()
	render := set.Render
	op := map[string]any{
		"operationId": rt.Operation,
		"summary":     rt.Summary,
	}
	if rt.Mutating {
		op[ExtMutating] = true
	}
	if rt.Probe {
		op["security"] = []any{}
	}
	var params []any
	for _, h := range api.Headers {
		if !h.Request || !h.Routes(rt) {
			continue
		}
		params = append(params, map[string]any{"$ref": "#/components/parameters/" + h.Name})
	}
	if i := strings.IndexByte(rt.Path, '{'); i >= 0 {
		name := strings.Trim(rt.Path[i:], "{}")
		params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"},
			"description": "a UUIDv7; anything else is 404"})
	}
	for _, q := range rt.Query {
		p := map[string]any{"name": q, "in": "query"}
		switch q {
		case "limit":
			p["schema"] = map[string]any{"type": "integer", "minimum": 1, "maximum": store.MaxPageSize}
			p["description"] = "page size, default 1000"
		case "cursor":
			p["schema"] = set.Ref(store.CursorSchema.Name)
			if err := set.Add(store.CursorSchema); err != nil {
				return nil, err
			}
			p["description"] = "the next_cursor of the previous page"
		default:
			p["schema"] = map[string]any{"type": "string"}
		}
		params = append(params, p)
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if rt.Consumes != nil {
		content := map[string]any{}
		for _, mt := range rt.Consumes {
			c, err := media(render, mt, ct.Request, ct.RequestLines)
			if err != nil {
				return nil, err
			}
			content[mt] = c
		}
		op["requestBody"] = map[string]any{"required": true, "content": content}
	}
	responses := map[string]any{}
	content := map[string]any{}
	for _, mt := range rt.Produces {
		c, err := media(render, mt, ct.Response, ct.ResponseLines)
		if err != nil {
			return nil, err
		}
		content[mt] = c
	}
	ok := map[string]any{"description": http.StatusText(rt.Status), "content": content}
	if h := responseHeaders(rt, rt.Status, true); len(h) > 0 {
		ok["headers"] = h
	}
	responses[strconv.Itoa(rt.Status)] = ok
	for status, s := range ct.Also {
		r, err := render(s)
		if err != nil {
			return nil, err
		}
		responses[strconv.Itoa(status)] = map[string]any{"description": http.StatusText(status),
			"content": map[string]any{api.MediaJSON: map[string]any{"schema": r}}}
	}
	byStatus := map[int][]string{}
	for _, c := range rt.Problems() {
		info, known := errcode.Lookup(c)
		if !known {
			return nil, fmt.Errorf("unregistered code %s", c)
		}
		byStatus[info.HTTP] = append(byStatus[info.HTTP], string(c))
	}
	if err := set.Add(api.ProblemSchema); err != nil {
		return nil, err
	}
	for status, codes := range byStatus {
		key := strconv.Itoa(status)
		if _, dup := responses[key]; dup {
			return nil, fmt.Errorf("status %d is both an answer and a problem", status)
		}
		slices.Sort(codes)
		enum := make([]any, len(codes))
		for i, c := range codes {
			enum[i] = c
		}
		r := map[string]any{
			"description": http.StatusText(status) + ": " + strings.Join(codes, ", "),
			ExtCodes:      enum,
			"content": map[string]any{api.MediaProblem: map[string]any{"schema": map[string]any{"allOf": []any{
				set.Ref(api.ProblemSchema.Name),
				map[string]any{"properties": map[string]any{"code": map[string]any{"enum": enum}, "status": map[string]any{"const": status}}},
			}}}},
		}
		if h := responseHeaders(rt, status, false); len(h) > 0 {
			r["headers"] = h
		}
		responses[key] = r
	}
	op["responses"] = responses
	return op, nil
}

// media is the media type object of mt with the body's schema: the JSON
// schema, or for NDJSON the schema of a line.
func media(render func(*schema.Schema) (map[string]any, error), mt string, body, lines *schema.Schema) (map[string]any, error) {
	switch {
	case mt == api.MediaJSON && body != nil:
		s, err := render(body)
		if err != nil {
			return nil, err
		}
		return map[string]any{"schema": s}, nil
	case mt == api.MediaNDJSON && lines != nil:
		s, err := render(lines)
		if err != nil {
			return nil, err
		}
		return map[string]any{"schema": map[string]any{"type": "string", "description": "newline-delimited JSON, one record per line"}, ExtLine: s}, nil
	case mt == api.MediaZstd:
		return map[string]any{"schema": map[string]any{"type": "string", "contentEncoding": "binary",
			"description": "zstd-compressed NDJSON (the same records)"}}, nil
	case strings.HasPrefix(mt, "text/plain"):
		return map[string]any{"schema": map[string]any{"type": "string", "description": "Prometheus text exposition format"}}, nil
	}
	return nil, fmt.Errorf("no schema for %s", mt)
}

// responseHeaders are the headers of rt's response with status.
func responseHeaders(rt *api.Route, status int, success bool) map[string]any {
	out := map[string]any{}
	for _, h := range api.Headers {
		if h.Request || !h.Routes(rt) || (h.Success && !success) {
			continue
		}
		if len(h.Statuses) > 0 && !slices.Contains(h.Statuses, status) {
			continue
		}
		out[h.Name] = map[string]any{"$ref": "#/components/headers/" + h.Name}
	}
	return out
}
