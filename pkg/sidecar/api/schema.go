package api

import (
	"slices"
	"strings"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/schema"
	"arxi.dev/arxi/pkg/sidecar/config"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/verify"
)

// The API's shapes: the problem document, the request bodies (whose keys
// the decoders of decode.go read from here) and each route's contract,
// from which the contract generator (pkg/sidecar/contract) writes
// openapi.json.

// Contract is what a route takes and answers besides its method, path
// and media types (the route table's): the schemas of its JSON bodies,
// or of each line of an NDJSON body, and the codes its handler fails
// with beyond those of the stages every request of its kind passes
// (Route.Problems).
type Contract struct {
	Request  *schema.Schema // a JSON request body
	Response *schema.Schema // the JSON success body
	// RequestLines and ResponseLines are the schemas of the lines of an
	// application/x-ndjson body.
	RequestLines, ResponseLines *schema.Schema
	// Also are answers besides the success status that are not problems:
	// /startup's 503 {"status":"starting"}.
	Also map[int]*schema.Schema
	// Fails are the codes the handler answers with.
	Fails []errcode.Code
}

// ProblemSchema is the problem document (RFC 9457) of every error
// response, made from the struct problemOf encodes.
var ProblemSchema = schema.Struct[problemDoc](map[string]*schema.Schema{
	"code":           schema.Enum(errcode.Codes()...),
	"type":           schema.Str(`^urn:arxi:error:[a-z0-9_.]+$`, 0, 0).Doc(`"urn:arxi:error:" and the code`),
	"status":         schema.Int(400, 599),
	"title":          schema.Str("", 1, 0).Doc("the code's meaning, from the registry (errors.json)"),
	"correlation_id": CorrelationSchema().Doc("the client's x-correlation-id, or the server's x-server-correlation-id"),
	"field":          schema.Str("", 1, 0).Doc("the field or header of an input error (SPEC §12)"),
	"line":           schema.Int(1, schema.MaxSafeInteger).Doc("the line of an NDJSON body"),
	"segment_id":     schema.UUID(),
	"sequence":       schema.Int(1, schema.MaxSafeInteger),
	"reasons":        schema.List(schema.Str(`^[a-z0-9_]+$`, 0, 0), 1, 0).Doc("why the sidecar is not ready: " + strings.Join(Vocabulary().Reasons, ", ")),
	"receipts":       schema.List(store.ReceiptSchema, 1, 0).Doc("enterprise.hook_failed: the receipts of the evidence that is durable all the same"),
}).Named("problem", "Problem", "An error response, application/problem+json (RFC 9457): the registry's code, title and status, "+
	"the detail, and the location of an input error. A server error's detail is a fixed sentence; no stack trace, path or secret appears.")

// statusBody is a probe's body {"status":…}.
func statusBody(name string, values ...string) *schema.Schema {
	return schema.Obj(schema.Req("status", schema.Enum(values...))).Named(name, "Probe status", "A probe's answer.")
}

// The request bodies.
var (
	emptyRequest = schema.Obj().Named("open_request", "Open a segment", "The body of POST /v1/segments: {}.")
	sealRequest  = schema.Obj(schema.Opt("reason", schema.Const(string(evidence.SealManual)))).Named("seal_request", "Seal the open segment",
		`The body of POST /v1/segments/seal: {"reason":"manual"} or {}.`)

	bareUnsealed = func() *schema.Schema {
		var fields []schema.Field
		for _, f := range evidence.UnsealedSchema.Fields {
			if f.Key != "attachments" {
				fields = append(fields, f)
			}
		}
		return schema.Obj(fields...).Named("unsealed_bare", "Unsealed envelope without attachments",
			"An unsealed envelope (SPEC §4.1) whose attachments are given beside it.")
	}()
	withAttachmentsRequest = schema.Obj(
		schema.Req("envelope", bareUnsealed),
		schema.Opt("attachments", schema.List(evidence.InlineAttachmentSchema, 0, evidence.DefaultLimits.AttachmentRefs)),
	).Named("with_attachments_request", "Record with attachments",
		`The body of POST /v1/envelopes/with-attachments: {"envelope":…,"attachments":[{"content_type","data"}]}.`)

	queryFilter = schema.Obj(
		schema.Opt("actor_id", schema.Label()),
		schema.Opt("adapter_id", schema.Token()),
		schema.Opt("after_sequence", schema.Int(0, schema.MaxSafeInteger).Doc("with segment_id: envelopes after this sequence")),
		schema.Opt("environment_id", schema.Label()),
		schema.Opt("event_types", schema.List(schema.Token(), 0, 0).Doc("any of")),
		schema.Opt("segment_id", schema.UUID()),
		schema.Opt("session_id", schema.Label()),
		schema.Opt("since", schema.Timestamp().Doc("claimed_at at or after")),
		schema.Opt("trace_id", schema.Label()),
		schema.Opt("until", schema.Timestamp().Doc("claimed_at before")),
	).Named("query_filter", "Query filter", "The criteria of arxi-query's flags, all of which an envelope must meet (SPEC §8).")
	queryRequest = schema.Obj(
		schema.Opt("cursor", store.CursorSchema),
		schema.Opt("filter", queryFilter.OrNull()),
		schema.Opt("limit", schema.Int(1, store.MaxPageSize).Doc("default 1000")),
	).Named("query_request", "Query", `The body of POST /v1/query/envelopes: {"filter":{…},"limit","cursor"}.`)

	buildRequest = schema.Obj(schema.Req("selector", bundle.SelectorSchema)).Named("build_request", "Build a bundle",
		`The body of POST /v1/bundles/build: {"selector":{…}} (SPEC §9.2); a store bundle has no stream selector.`)

	envelopeResponse = schema.Obj(
		schema.Req("envelope", evidence.EnvelopeSchema),
		schema.Req("receipt", store.ReceiptSchema),
	).Named("envelope_response", "Recorded envelope", "The sealed envelope and its receipt, answered once it is durable.")

	batchLine = schema.OneOf(evidence.UnsealedSchema, evidence.AttachmentSchema).Named("batch_line", "Batch line",
		"A line of POST /v1/envelopes/batch: an unsealed envelope, or an attachment record an envelope after it references.")
	bundleLine = schema.OneOf(bundle.ManifestSchema, evidence.GenesisSchema, evidence.AttachmentSchema, evidence.EnvelopeSchema,
		evidence.ElidedSchema, evidence.SealSchema).Named("bundle_line", "Bundle line",
		"A line of a bundle (SPEC §9.1): the manifest first, then each segment's genesis, attachments, envelope and elided records and seal.")
)

// The key lists of the request decoders (decode.go).
var (
	withAttachmentsKeys = withAttachmentsRequest.Keys()
	inlineKeys          = evidence.InlineAttachmentSchema.Keys()
	sealKeys            = sealRequest.Keys()
	queryKeys           = queryRequest.Keys()
	filterKeys          = queryFilter.Keys()
	buildKeys           = buildRequest.Keys()
)

// Groups of codes handlers fail with.
var (
	storage  = []errcode.Code{errcode.StoreIO, errcode.StoreCorrupt, errcode.IOFailed}
	record   = append(prefixed("input."), errcode.ChainDiscontinuity, errcode.ChainHashMismatch, errcode.SegmentSealed, errcode.StoreDuplicate)
	paging   = []errcode.Code{errcode.InputFieldInvalid, errcode.UsageInvalid}
	readBody = append(prefixed("input."), prefixed("bundle.")...)
)

// prefixed lists the registered codes that begin with p.
func prefixed(p string) []errcode.Code {
	var codes []errcode.Code
	for _, c := range errcode.Codes() {
		if strings.HasPrefix(string(c), p) {
			codes = append(codes, c)
		}
	}
	return codes
}

// contracts holds each operation's contract.
var contracts = map[string]Contract{
	OpHealth:  {Response: statusBody("health_status", "ok")},
	OpStartup: {Response: statusBody("startup_status", "started"), Also: map[int]*schema.Schema{503: statusBody("startup_pending", ReasonStarting)}},
	OpReady:   {Response: statusBody("ready_status", "ready"), Fails: []errcode.Code{errcode.ServiceUnavailable}},
	OpSegmentsOpen: {Request: emptyRequest, Response: evidence.GenesisSchema,
		Fails: []errcode.Code{errcode.InputUnknownField, errcode.InputMalformedJSON, errcode.InputTooDeep, errcode.SegmentAlreadyOpen}},
	OpSegmentsSeal: {Request: sealRequest, Response: evidence.SealSchema,
		Fails: []errcode.Code{errcode.InputUnknownField, errcode.InputFieldInvalid, errcode.InputMalformedJSON, errcode.InputTooDeep, errcode.SegmentNoneOpen}},
	OpSegmentsList:               {Response: store.SegmentPageSchema, Fails: paging},
	OpSegmentsActive:             {Response: store.SegmentSchema, Fails: []errcode.Code{errcode.SegmentNoneOpen}},
	OpEnvelopesRecord:            {Request: evidence.UnsealedSchema, Response: envelopeResponse, Fails: record},
	OpEnvelopesRecordAttachments: {Request: withAttachmentsRequest, Response: envelopeResponse, Fails: record},
	OpEnvelopesBatch:             {RequestLines: batchLine, ResponseLines: store.ReceiptSchema, Fails: record},
	OpQueryEnvelopes:             {Request: queryRequest, Response: store.EnvelopePageSchema, Fails: append(prefixed("input."), errcode.UsageInvalid)},
	OpBundlesBuild: {Request: buildRequest, ResponseLines: bundleLine,
		Fails: append(prefixed("input."), errcode.BundleEmpty, errcode.BundleLimitExceeded, errcode.UsageInvalid)},
	OpBundlesList:    {Response: storesource.ListSchema, Fails: paging},
	OpBundlesGet:     {ResponseLines: bundleLine, Fails: []errcode.Code{errcode.BundleNotFound}},
	OpBundlesVerify:  {RequestLines: bundleLine, Response: verify.VerdictSchema, Fails: readBody},
	OpBundlesInspect: {RequestLines: bundleLine, Response: bundle.ManifestSchema, Fails: readBody},
	OpConfigRead:     {Response: config.EffectiveSchema()},
	OpMetrics:        {},
}

// Contract returns the route's contract.
func (rt *Route) Contract() Contract { return contracts[rt.Operation] }

// EnterprisePrefix begins the codes of enterprise mode (SIDECAR.md §4),
// which every route the gate intercepts can answer with.
const EnterprisePrefix = "enterprise."

// Problems lists, sorted, every code the route can answer with: those of
// the stages of server.go its requests pass, and its handler's.
func (rt *Route) Problems() []errcode.Code {
	codes := []errcode.Code{errcode.RequestHeaderInvalid, errcode.Internal}
	if !rt.Probe {
		codes = append(codes, errcode.RequestHeadersTooLarge, errcode.AuthInvalidToken, errcode.RequestNotAcceptable,
			errcode.InputUnknownField, errcode.InputFieldInvalid)
	}
	if rt.Intercepted() {
		codes = append(codes, enterpriseCodes...) // the vocabulary's; a test holds it to the registry
	}
	if rt.Consumes != nil {
		codes = append(codes, errcode.RequestUnsupportedMedia, errcode.RequestTooLarge, errcode.RequestTimeout, errcode.IOFailed)
	}
	switch {
	case rt.Metrics:
		codes = append(codes, errcode.RequestNotFound)
	case !rt.Probe:
		codes = append(codes, errcode.ServiceUnavailable, errcode.AdmissionSaturated, errcode.RequestTimeout)
		codes = append(codes, storage...)
	}
	if rt.Mutating {
		codes = append(codes, errcode.IdempotencyKeyInvalid, errcode.IdempotencyConflict, errcode.IdempotencyInProgress)
	}
	codes = append(codes, rt.Contract().Fails...)
	slices.Sort(codes)
	return slices.Compact(codes)
}

// Header is a header of the contract: where it goes and on which routes.
type Header struct {
	Name        string
	Description string
	Schema      *schema.Schema
	// Request marks a request header; the others are response headers.
	Request bool
	// Routes says which routes it applies to.
	Routes func(*Route) bool
	// Success limits a response header to the success response; Statuses
	// to those problem statuses (none: every response).
	Success  bool
	Statuses []int
}

func everyRoute(*Route) bool     { return true }
func mutating(rt *Route) bool    { return rt.Mutating }
func authorized(rt *Route) bool  { return !rt.Probe }
func intercepted(rt *Route) bool { return rt.Intercepted() }

func printableASCII(max int) *schema.Schema { return schema.Str(`^[\x20-\x7e]+$`, 1, max) }

// CorrelationSchema is a correlation id: the client's (1-128 printable
// ASCII) or the server's (a UUIDv7, which is such a string too).
func CorrelationSchema() *schema.Schema { return printableASCII(128) }

// Headers lists the headers of the vocabulary (vocabulary.go) in the
// contract; a test checks that every header there is here.
var Headers = []Header{
	{Name: HeaderCorrelationID, Request: true, Routes: everyRoute, Schema: CorrelationSchema(),
		Description: "the client's correlation id, 1-128 printable ASCII; echoed in the response and the problem's correlation_id"},
	{Name: HeaderRequestID, Request: true, Routes: everyRoute, Schema: CorrelationSchema(),
		Description: "the legacy spelling of x-correlation-id; echoed"},
	{Name: HeaderIdempotencyKey, Request: true, Routes: mutating, Schema: printableASCII(255),
		Description: "1-255 printable ASCII: the same key with the same request replays the stored response; with another request, 409 idempotency.conflict"},
	{Name: HeaderTenantID, Request: true, Routes: intercepted, Schema: schema.Label(),
		Description: "enterprise mode: the caller's tenant, as the gateway established it (a SPEC §2 label); required there on every route but the probes and /metrics"},
	{Name: HeaderPrincipalID, Request: true, Routes: intercepted, Schema: schema.Label(),
		Description: "enterprise mode: the caller's principal (a SPEC §2 label); required there on every route but the probes and /metrics"},
	{Name: HeaderAuthnMethod, Request: true, Routes: intercepted, Schema: schema.Enum(Vocabulary().AuthnMethods...),
		Description: "enterprise mode: how the gateway authenticated the caller, exactly one of the enum; required there on every route but the probes and /metrics"},
	{Name: HeaderNamespaceID, Request: true, Routes: intercepted, Schema: schema.Label(),
		Description: "enterprise mode: the caller's namespace (a SPEC §2 label), optional"},
	{Name: HeaderWriterLease, Request: true, Routes: mutating, Schema: schema.Const(HeaderTrue),
		Description: "enterprise mode with require_writer_lease: a mutating request asserts the writer lease with true, else 409 enterprise.writer_lease_required"},
	{Name: HeaderServerCorrelationID, Routes: everyRoute, Schema: schema.UUID(),
		Description: "the sidecar's id of this response, in its log"},
	{Name: HeaderCorrelationID, Routes: everyRoute, Schema: CorrelationSchema(), Description: "the client's correlation id, echoed"},
	{Name: HeaderIdempotencyReplayed, Routes: mutating, Success: true, Schema: schema.Const("true"),
		Description: "true when the response is the stored answer to an earlier request with the same Idempotency-Key"},
	{Name: HeaderRetryAfter, Routes: authorized, Statuses: []int{503}, Schema: schema.Str(`^[0-9]+$`, 0, 0),
		Description: "seconds to wait before retrying (admission.saturated, service.unavailable)"},
	{Name: HeaderWWWAuthenticate, Routes: authorized, Statuses: []int{401}, Schema: schema.Str("", 0, 0),
		Description: `the RFC 6750 challenge: Bearer realm="arxi", with error="invalid_token" when a token was sent`},
}
