package api

import "arxi.dev/arxi/pkg/errcode"

// The sidecar's vocabulary: every name that clients, operators and a
// control plane match on. Header names, media types, operation labels,
// readiness reasons, and for enterprise mode (SIDECAR.md §4) the identity
// headers, the control plane's paths, the decisions, the hook phases and
// outcomes and the problem codes. This is the one file that spells them:
// the route table, the middleware, the metrics and the control-plane
// calls use these constants, TestVocabulary fails on a copy elsewhere, and
// Vocabulary lists them for the generated contract.

// Headers.
const (
	HeaderCorrelationID       = "X-Correlation-Id"        // a client's correlation id, echoed
	HeaderRequestID           = "X-Request-Id"            // legacy spelling of the client's correlation id
	HeaderServerCorrelationID = "X-Server-Correlation-Id" // the sidecar's id of every response
	HeaderIdempotencyKey      = "Idempotency-Key"
	HeaderIdempotencyReplayed = "Idempotency-Replayed"
	HeaderRetryAfter          = "Retry-After"
	HeaderWWWAuthenticate     = "WWW-Authenticate"

	// Enterprise mode: the caller's identity, as the gateway in front of
	// the sidecar established it, and the writer-lease assertion.
	HeaderTenantID    = "X-Tenant-Id"
	HeaderPrincipalID = "X-Principal-Id"
	HeaderAuthnMethod = "X-Authn-Method"
	HeaderNamespaceID = "X-Namespace-Id" // optional
	HeaderWriterLease = "X-Arxi-Writer-Lease"
)

// Media types.
const (
	MediaJSON    = "application/json"
	MediaNDJSON  = "application/x-ndjson"
	MediaZstd    = "application/zstd"
	MediaProblem = "application/problem+json"
	MediaMetrics = "text/plain; version=0.0.4"
)

// Operation labels: one per route, stable, part of the contract.
const (
	OpHealth                     = "probes.health"
	OpStartup                    = "probes.startup"
	OpReady                      = "probes.ready"
	OpSegmentsOpen               = "segments.open"
	OpSegmentsSeal               = "segments.seal"
	OpSegmentsList               = "segments.list"
	OpSegmentsActive             = "segments.active"
	OpEnvelopesRecord            = "envelopes.record"
	OpEnvelopesRecordAttachments = "envelopes.record_with_attachments"
	OpEnvelopesBatch             = "envelopes.batch"
	OpQueryEnvelopes             = "query.envelopes"
	OpBundlesBuild               = "bundles.build"
	OpBundlesList                = "bundles.list"
	OpBundlesGet                 = "bundles.get"
	OpBundlesVerify              = "bundles.verify"
	OpBundlesInspect             = "bundles.inspect"
	OpConfigRead                 = "config.read"
	OpMetrics                    = "metrics.read"
	opNone                       = "none" // requests that match no route
)

// Readiness reasons: the reasons member of a 503 from /ready.
const (
	ReasonStarting                = "starting"
	ReasonStopping                = "stopping"
	ReasonStorageUnavailable      = "storage_unavailable"
	ReasonAdmissionSaturated      = "admission_saturated"
	ReasonControlPlaneUnavailable = "control_plane_unavailable" // readiness_mode = "storage_and_enterprise"
)

// Enterprise mode: the values of X-Authn-Method.
const (
	AuthnToken = "token"
	AuthnMTLS  = "mtls"
	AuthnOIDC  = "oidc"
)

// HeaderTrue is the value of Idempotency-Replayed on a replayed answer,
// and the one value of X-Arxi-Writer-Lease that asserts the writer lease.
const HeaderTrue = "true"

// Enterprise mode: the control plane's paths, below
// enterprise.control_plane_url.
const (
	PathAuthorize         = "/v1/enterprise/sidecar/authorize" // POST: the decision
	PathHooks             = "/v1/enterprise/sidecar/hooks"     // POST: a hook
	PathControlPlaneReady = "/v1/enterprise/sidecar/ready"     // GET: 200 while it can decide
)

// Enterprise mode: how a decision ended, the outcome label of the
// decisions metric. The first two are also the values of the control
// plane's "decision" member.
const (
	DecisionAllow          = "allow"
	DecisionDeny           = "deny"
	DecisionQuotaExhausted = "quota_exhausted" // quota.remaining 0
	DecisionUnavailable    = "unavailable"     // unreachable, slow, or not 200 application/json
	DecisionMalformed      = "malformed"       // 200, but not a decision object
)

// Enterprise mode: the phases of a hook.
const (
	PhaseAdmission = "admission" // the request was allowed; its handler is about to run
	PhaseResult    = "result"    // the handler ran; status and outcome say how it ended
)

// Enterprise mode: the outcomes of a hook.
const (
	OutcomeAdmitted  = "admitted"  // admission
	OutcomeSucceeded = "succeeded" // result: a 2xx answer
	OutcomeReplayed  = "replayed"  // result: a 2xx answer replayed for an Idempotency-Key; nothing new written
	OutcomeFailed    = "failed"    // result: a problem
)

// enterpriseCodes are the problem codes of enterprise mode, in the
// registry of pkg/errcode with their HTTP statuses.
var enterpriseCodes = []errcode.Code{
	errcode.EnterpriseIdentity,    // 400
	errcode.EnterpriseDenied,      // 403
	errcode.EnterpriseWriterLease, // 409
	errcode.EnterpriseQuota,       // 429
	errcode.EnterpriseHookFailed,  // 502
	errcode.EnterpriseUnavailable, // 503
}

// Vocab lists the vocabulary by kind.
type Vocab struct {
	Headers         []string
	Operations      []string // every route's label, in route order
	Reasons         []string
	AuthnMethods    []string
	HeaderTrue      string
	ControlPlane    []string // paths
	Decisions       []string // the outcomes of a decision, the label of the decisions metric
	Answers         []string // the values of the control plane's "decision" member
	Phases          []string
	Outcomes        []string
	EnterpriseCodes []errcode.Code
}

// Vocabulary returns the vocabulary, for the generated contract and the
// tests that hold the code to it.
func Vocabulary() Vocab {
	return Vocab{
		Headers: []string{HeaderCorrelationID, HeaderRequestID, HeaderServerCorrelationID, HeaderIdempotencyKey, HeaderIdempotencyReplayed,
			HeaderRetryAfter, HeaderWWWAuthenticate, HeaderTenantID, HeaderPrincipalID, HeaderAuthnMethod, HeaderNamespaceID, HeaderWriterLease},
		Operations: []string{OpHealth, OpStartup, OpReady, OpSegmentsOpen, OpSegmentsSeal, OpSegmentsList, OpSegmentsActive,
			OpEnvelopesRecord, OpEnvelopesRecordAttachments, OpEnvelopesBatch, OpQueryEnvelopes, OpBundlesBuild, OpBundlesList,
			OpBundlesGet, OpBundlesVerify, OpBundlesInspect, OpConfigRead, OpMetrics},
		Reasons:         []string{ReasonStarting, ReasonStopping, ReasonStorageUnavailable, ReasonAdmissionSaturated, ReasonControlPlaneUnavailable},
		AuthnMethods:    []string{AuthnToken, AuthnMTLS, AuthnOIDC},
		HeaderTrue:      HeaderTrue,
		ControlPlane:    []string{PathAuthorize, PathHooks, PathControlPlaneReady},
		Decisions:       []string{DecisionAllow, DecisionDeny, DecisionQuotaExhausted, DecisionUnavailable, DecisionMalformed},
		Answers:         []string{DecisionAllow, DecisionDeny},
		Phases:          []string{PhaseAdmission, PhaseResult},
		Outcomes:        []string{OutcomeAdmitted, OutcomeSucceeded, OutcomeReplayed, OutcomeFailed},
		EnterpriseCodes: append([]errcode.Code(nil), enterpriseCodes...),
	}
}
