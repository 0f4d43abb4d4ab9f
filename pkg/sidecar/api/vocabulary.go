package api

// The sidecar's vocabulary: header names and operation labels. Every other
// file uses these names; the route table, the metrics and (in enterprise
// mode) the control-plane calls carry the labels, and the generated
// contract is checked against them.

// Headers.
const (
	HeaderCorrelationID       = "X-Correlation-Id"        // a client's correlation id, echoed
	HeaderRequestID           = "X-Request-Id"            // legacy spelling of the client's correlation id
	HeaderServerCorrelationID = "X-Server-Correlation-Id" // the sidecar's id of every response
	HeaderIdempotencyKey      = "Idempotency-Key"
	HeaderIdempotencyReplayed = "Idempotency-Replayed"
	HeaderRetryAfter          = "Retry-After"
	HeaderWWWAuthenticate     = "WWW-Authenticate"
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
