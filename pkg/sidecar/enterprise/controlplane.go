package enterprise

import (
	"net/http"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/schema"
	"arxi.dev/arxi/pkg/sidecar/api"
)

// The control-plane API (SIDECAR.md §4) as the bridge speaks it, declared
// once: the bridge encodes its requests from AuthorizeRequest and
// HookRequest, decodes the decision with the keys of DecisionSchema, and
// makes its calls from Endpoints, whose success rules it applies; the
// contract generator (pkg/sidecar/contract) writes
// docs/generated/control-plane.openapi.json from the same Endpoints.

// AuthorizeRequest is the body of the authorize call, written as
// canonical JSON (its fields are in key order).
type AuthorizeRequest struct {
	AuthnMethod   string  `json:"authn_method"`
	CorrelationID string  `json:"correlation_id"`
	NamespaceID   *string `json:"namespace_id"` // nil: the request names none
	Operation     string  `json:"operation"`
	PrincipalID   string  `json:"principal_id"`
	TenantID      string  `json:"tenant_id"`
}

// HookRequest is the body of a hook call, written as canonical JSON.
type HookRequest struct {
	CorrelationID string   `json:"correlation_id"`
	EnvelopeIDs   []string `json:"envelope_ids"` // never nil: [] when none
	Operation     string   `json:"operation"`
	Outcome       string   `json:"outcome"` // api.Outcome*
	Phase         string   `json:"phase"`   // api.PhaseAdmission or PhaseResult
	PrincipalID   string   `json:"principal_id"`
	Status        *int     `json:"status"` // the answer's HTTP status; nil at admission
	TenantID      string   `json:"tenant_id"`
}

// operations are the labels of the routes that pass the gate: the
// operation member of every call.
func operations() []string {
	var ops []string
	for _, rt := range api.RouteTable() {
		if rt.Intercepted() {
			ops = append(ops, rt.Operation)
		}
	}
	return ops
}

var (
	operationSchema   = schema.Enum(operations()...).Doc("the route's operation label (docs/sidecar.md)")
	correlationSchema = api.CorrelationSchema().Doc("the client's X-Correlation-Id (or X-Request-Id), else the sidecar's X-Server-Correlation-Id: " +
		"the correlation_id of the sidecar's problems, and the same in the authorize call and the hooks of one request")
)

// AuthorizeSchema is the authorize request, from AuthorizeRequest.
var AuthorizeSchema = schema.Struct[AuthorizeRequest](map[string]*schema.Schema{
	"authn_method":   schema.Enum(api.Vocabulary().AuthnMethods...).Doc("the request's " + api.HeaderAuthnMethod),
	"correlation_id": correlationSchema,
	"namespace_id":   schema.Label().OrNull().Doc("the request's " + api.HeaderNamespaceID + ", null when it names none"),
	"operation":      operationSchema,
	"principal_id":   schema.Label().Doc("the request's " + api.HeaderPrincipalID),
	"tenant_id":      schema.Label().Doc("the request's " + api.HeaderTenantID),
}).Named("authorize_request", "Authorize", "The body of POST /v1/enterprise/sidecar/authorize: who asks for which operation, "+
	"as the identity headers of the request said (SIDECAR.md §4); canonical JSON.")

// HookSchema is a hook's request, from HookRequest: at admission the
// outcome is admitted, the status null and no envelope named; a result
// has a status and another outcome.
var HookSchema = schema.Struct[HookRequest](map[string]*schema.Schema{
	"correlation_id": correlationSchema,
	"envelope_ids":   schema.List(schema.UUID(), 0, 0).Doc("a result's envelopes written (or, replayed, stored), in input order; empty for reads, segment operations and failures"),
	"operation":      operationSchema,
	"outcome":        schema.Enum(api.Vocabulary().Outcomes...),
	"phase":          schema.Enum(api.Vocabulary().Phases...),
	"principal_id":   schema.Label().Doc("the request's " + api.HeaderPrincipalID),
	"status":         schema.Int(200, 599).OrNull().Doc("the HTTP status of the sidecar's answer; null at admission"),
	"tenant_id":      schema.Label().Doc("the request's " + api.HeaderTenantID),
}).With(map[string]any{
	"if": map[string]any{"properties": map[string]any{"phase": map[string]any{"const": api.PhaseAdmission}}},
	"then": map[string]any{"properties": map[string]any{
		"outcome":      map[string]any{"const": api.OutcomeAdmitted},
		"status":       map[string]any{"type": "null"},
		"envelope_ids": map[string]any{"maxItems": 0},
	}},
	"else": map[string]any{"properties": map[string]any{
		"outcome": map[string]any{"not": map[string]any{"const": api.OutcomeAdmitted}},
		"status":  map[string]any{"type": "integer"},
	}},
}).Named("hook_request", "Hook", "The body of POST /v1/enterprise/sidecar/hooks (SIDECAR.md §4): at admission, once the request is allowed and "+
	"before its handler runs; as the result, once the handler has answered (a streamed bundle: once its last byte is sent), with the status, "+
	"the outcome and the envelope ids; canonical JSON.")

var quotaSchema = schema.Obj(schema.Req("remaining", schema.Int(0, schema.MaxSafeInteger).Doc("the quota left before this request; 0 refuses it")))

// DecisionSchema is the authorize answer. DecodeDecision takes exactly
// its keys; what it checks beyond them is in its documentation.
var DecisionSchema = schema.Obj(
	schema.Req("decision", schema.Enum(api.Vocabulary().Answers...)),
	schema.Opt("quota", quotaSchema.OrNull()),
	schema.Opt("reason", schema.Str("", 0, 0).OrNull().Doc("shown in the problem's detail when it is a SPEC §2 label that does not hold the token")),
).Named("decision", "Decision", "The answer to the authorize call, 200 application/json, strict JSON (no duplicate key, valid UTF-8, at most "+
	"16 KiB): only allow, with no quota or some left, lets the request through.")

// Endpoint is one call of the control-plane API.
type Endpoint struct {
	Method, Path string // Path is below enterprise.control_plane_url
	Summary      string
	Request      *schema.Schema // the JSON body; nil: none
	// AnyOK makes any 2xx answer a success; otherwise only 200 is.
	AnyOK bool
	// Answer is the JSON body of a success; nil: the body is ignored.
	Answer *schema.Schema
	// Otherwise says what the bridge makes of every other end of the
	// call: another status, a timeout, no answer.
	Otherwise string
	// Refusals are the problem codes the sidecar answers with, by the
	// decision's outcome (api.Vocabulary().Decisions), for every outcome
	// but allow; authorize only.
	Refusals map[string]errcode.Code
}

// Succeeded reports whether an answer with status is a success.
func (e *Endpoint) Succeeded(status int) bool {
	if e.AnyOK {
		return status/100 == 2
	}
	return status == http.StatusOK
}

// The calls.
var (
	authorize = Endpoint{Method: http.MethodPost, Path: api.PathAuthorize, Request: AuthorizeSchema, Answer: DecisionSchema,
		Summary: "the decision, before the handler of every request but the probes and /metrics",
		Otherwise: "503 enterprise.unavailable: another status (a redirect is not followed), not application/json, longer than 16 KiB, " +
			"not a decision, no answer within decision_timeout; the sidecar never fails open",
		Refusals: map[string]errcode.Code{
			api.DecisionDeny:           errcode.EnterpriseDenied,
			api.DecisionQuotaExhausted: errcode.EnterpriseQuota,
			api.DecisionUnavailable:    errcode.EnterpriseUnavailable,
			api.DecisionMalformed:      errcode.EnterpriseUnavailable,
		}}
	hooks = Endpoint{Method: http.MethodPost, Path: api.PathHooks, Request: HookSchema, AnyOK: true,
		Summary: "a hook: admission, then the result, of every request the decision allowed",
		Otherwise: "not delivered: an admission hook refuses the request (502 enterprise.hook_failed, nothing done); a result hook after a " +
			"successful mutating operation makes its answer 502 enterprise.hook_failed with the durable receipts; after anything else it is logged"}
	readiness = Endpoint{Method: http.MethodGet, Path: api.PathControlPlaneReady,
		Summary:   "whether the control plane can decide; polled every second with readiness_mode = \"storage_and_enterprise\"",
		Otherwise: "not ready: the sidecar's /ready answers 503 with reason control_plane_unavailable until a poll gets a 200"}
)

// Endpoints returns the calls of the control-plane API: authorize, hooks,
// readiness.
func Endpoints() []Endpoint { return []Endpoint{authorize, hooks, readiness} }
