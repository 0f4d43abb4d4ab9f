package contract

import (
	"fmt"
	"path"

	"arxi.dev/arxi/pkg/schema"
	"arxi.dev/arxi/pkg/sidecar/api"
	"arxi.dev/arxi/pkg/sidecar/enterprise"
)

// ExtOutcomes, on the authorize operation, maps each outcome of a
// decision (the label of arxi_sidecar_enterprise_decisions_total) to the
// problem code the sidecar answers with; null for allow, which proceeds.
const ExtOutcomes = "x-arxi-outcomes"

const controlPlaneDescription = `The API a control plane implements for the Arxi sidecar's enterprise mode (SIDECAR.md §4, docs/enterprise.md): ` +
	`the sidecar is the client. Before the handler of every request but the probes and /metrics it asks authorize, and it reports ` +
	`the admission and the result of every allowed request to hooks; with readiness_mode = "storage_and_enterprise" it polls ready. ` +
	`Every call carries Authorization: Bearer (the token of enterprise.control_plane_token_file) and Accept: application/json, a body ` +
	`Content-Type: application/json; request bodies are canonical JSON (RFC 8785). Each call is bounded by decision_timeout, an answer's ` +
	`body by 16 KiB; redirects are not followed. The bridge has no authority over evidence: it can refuse a request, never change a record.`

// ControlPlane returns the OpenAPI document of the control-plane API,
// from the bridge's endpoints (enterprise.Endpoints).
func ControlPlane() (map[string]any, error) {
	set := schema.NewSet(func(name string) string { return "#/components/schemas/" + name })
	jsonBody := func(s *schema.Schema) (map[string]any, error) {
		r, err := set.Render(s)
		if err != nil {
			return nil, err
		}
		return map[string]any{api.MediaJSON: map[string]any{"schema": r}}, nil
	}
	paths := map[string]any{}
	for _, e := range enterprise.Endpoints() {
		op := map[string]any{"operationId": path.Base(e.Path), "summary": e.Summary}
		if e.Request != nil {
			content, err := jsonBody(e.Request)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.Path, err)
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		status, ok := "200", map[string]any{}
		if e.AnyOK {
			status = "2XX"
		}
		if e.Answer != nil {
			content, err := jsonBody(e.Answer)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.Path, err)
			}
			ok["description"], ok["content"] = "the answer", content
		} else {
			ok["description"] = "a success; the body is read (bounded) and ignored"
		}
		op["responses"] = map[string]any{status: ok, "default": map[string]any{"description": e.Otherwise}}
		if e.Refusals != nil {
			outcomes := map[string]any{}
			for _, o := range api.Vocabulary().Decisions {
				if c, refused := e.Refusals[o]; refused {
					outcomes[o] = string(c)
				} else {
					outcomes[o] = nil
				}
			}
			op[ExtOutcomes] = outcomes
		}
		addOperation(paths, e.Method, e.Path, op)
	}
	doc := document("arxi-sidecar control plane", controlPlaneDescription, paths, set,
		"the token of enterprise.control_plane_token_file (RFC 6750), on every call; it must differ from the sidecar's own token")
	doc["servers"] = []any{map[string]any{"url": "https://cp.internal:8443",
		"description": "enterprise.control_plane_url: https, or http to a loopback address; a path in it is a prefix of the paths below"}}
	return doc, nil
}
