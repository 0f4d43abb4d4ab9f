package api

import (
	"slices"
	"strings"
)

// Route is one operation of the API. The route table is the one source of
// the API's shape: the router matches requests against it, the middleware
// reads each route's rules from it, and the contract (OpenAPI) is generated
// from it.
type Route struct {
	Method    string
	Path      string // one segment may be a {name} parameter
	Operation string // the stable label (vocabulary.go)
	Summary   string
	// Mutating routes write evidence: they take Idempotency-Key.
	Mutating bool
	// Probe routes bypass auth, bounds and admission.
	Probe bool
	// Metrics routes bypass bounds and admission, and auth on a Unix
	// socket.
	Metrics bool
	// Consumes lists the request media types; nil for a route without a
	// body. Streamed routes hand the body to the handler as it arrives
	// (bounded by max_body_bytes); the others read it whole first.
	Consumes []string
	Streamed bool
	// Produces lists the success response media types, preferred first.
	Produces []string
	// Status is the success status.
	Status int
	// Query lists the query parameters taken.
	Query []string

	handle handler
}

// Intercepted reports whether the route's requests pass Config.Intercept
// (the enterprise gate): every route but the probes and /metrics.
func (rt *Route) Intercepted() bool { return !rt.Probe && !rt.Metrics }

// Routes returns the route table (SIDECAR.md §2) in a stable order.
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }

// RouteTable returns the route table of a server with no backend, for
// tools that generate the contract.
func RouteTable() []Route { return (&Server{}).table() }

func (s *Server) table() []Route {
	json := []string{MediaJSON}
	bundle := []string{MediaNDJSON, MediaZstd}
	return []Route{
		{Method: "GET", Path: "/health", Operation: OpHealth, Probe: true, Produces: json, Status: 200, handle: s.health,
			Summary: "liveness: the process answers"},
		{Method: "GET", Path: "/startup", Operation: OpStartup, Probe: true, Produces: json, Status: 200, handle: s.startup,
			Summary: "200 once the store is open and verified, 503 before"},
		{Method: "GET", Path: "/ready", Operation: OpReady, Probe: true, Produces: json, Status: 200, handle: s.ready,
			Summary: "200 while the store is reachable (and, if configured, admission not saturated)"},
		{Method: "POST", Path: "/v1/segments", Operation: OpSegmentsOpen, Mutating: true, Consumes: json, Produces: json, Status: 201,
			handle: s.segmentsOpen, Summary: "open a segment by hand (clock time, random id); body {}"},
		{Method: "POST", Path: "/v1/segments/seal", Operation: OpSegmentsSeal, Mutating: true, Consumes: json, Produces: json, Status: 200,
			handle: s.segmentsSeal, Summary: `seal the open segment; body {"reason":"manual"} or {}`},
		{Method: "GET", Path: "/v1/segments", Operation: OpSegmentsList, Produces: json, Status: 200, Query: []string{"limit", "cursor"},
			handle: s.segmentsList, Summary: "list segments in store order"},
		{Method: "GET", Path: "/v1/segments/active", Operation: OpSegmentsActive, Produces: json, Status: 200,
			handle: s.segmentsActive, Summary: "the open segment, or 404 segment.none_open"},
		{Method: "POST", Path: "/v1/envelopes", Operation: OpEnvelopesRecord, Mutating: true, Consumes: json, Produces: json, Status: 201,
			handle: s.envelopesRecord, Summary: "record one unsealed envelope (SPEC §4.1, inline attachments allowed)"},
		{Method: "POST", Path: "/v1/envelopes/with-attachments", Operation: OpEnvelopesRecordAttachments, Mutating: true, Consumes: json,
			Produces: json, Status: 201, handle: s.envelopesWithAttachments,
			Summary: `record one envelope with attachments given apart: {"envelope":…,"attachments":[{"content_type","data"}]}`},
		{Method: "POST", Path: "/v1/envelopes/batch", Operation: OpEnvelopesBatch, Mutating: true, Consumes: []string{MediaNDJSON},
			Produces: []string{MediaNDJSON}, Status: 201, handle: s.envelopesBatch,
			Summary: "record unsealed envelopes and attachment records, one per line, all or nothing; receipts out"},
		{Method: "POST", Path: "/v1/query/envelopes", Operation: OpQueryEnvelopes, Consumes: json, Produces: json, Status: 200,
			handle: s.queryEnvelopes, Summary: `query envelopes: {"filter":{…},"limit","cursor"} (SPEC §8)`},
		{Method: "POST", Path: "/v1/bundles/build", Operation: OpBundlesBuild, Consumes: json, Produces: bundle, Status: 200,
			handle: s.bundlesBuild, Summary: `build the bundle of a selector: {"selector":{…}} (SPEC §9.2); the bytes arxi-bundle writes`},
		{Method: "GET", Path: "/v1/bundles", Operation: OpBundlesList, Produces: json, Status: 200, Query: []string{"limit", "cursor"},
			handle: s.bundlesList, Summary: "list the canonical bundle of each sealed segment with its id"},
		{Method: "GET", Path: "/v1/bundles/{bundle_id}", Operation: OpBundlesGet, Produces: bundle, Status: 200,
			handle: s.bundlesGet, Summary: "fetch a canonical bundle by id; the bytes of arxi-bundle --segment ID"},
		{Method: "POST", Path: "/v1/bundles/verify", Operation: OpBundlesVerify, Consumes: bundle, Streamed: true, Produces: json, Status: 200,
			handle: s.bundlesVerify, Summary: "verify a bundle or sealed stream against the configured trust root; the verdict arxi-verify prints"},
		{Method: "POST", Path: "/v1/bundles/inspect", Operation: OpBundlesInspect, Consumes: bundle, Streamed: true, Produces: json, Status: 200,
			handle: s.bundlesInspect, Summary: "a bundle's manifest, as arxi-bundle inspect --json prints it"},
		{Method: "GET", Path: "/v1/config", Operation: OpConfigRead, Produces: json, Status: 200, handle: s.configRead,
			Summary: "the effective configuration, secrets and paths redacted"},
		{Method: "GET", Path: "/metrics", Operation: OpMetrics, Metrics: true, Produces: []string{MediaMetrics}, Status: 200,
			handle: s.metricsRead, Summary: "Prometheus metrics"},
	}
}

// match finds the route of method and path: an exact path before a
// parameter. It returns the route and its parameter, or nil and the
// methods the path takes (none for an unknown path).
func match(routes []Route, method, path string) (*Route, string, []string) {
	var allow []string
	var found *Route
	param := ""
	for i := range routes {
		rt := &routes[i]
		p, ok := matchPath(rt.Path, path)
		if !ok {
			continue
		}
		if rt.Method != method {
			allow = append(allow, rt.Method)
			continue
		}
		if found == nil || !strings.Contains(rt.Path, "{") {
			found, param = rt, p
		}
	}
	if found != nil {
		return found, param, nil
	}
	slices.Sort(allow)
	return nil, "", slices.Compact(allow)
}

func matchPath(pattern, path string) (string, bool) {
	i := strings.IndexByte(pattern, '{')
	if i < 0 {
		return "", pattern == path
	}
	prefix := pattern[:i]
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok || rest == "" || strings.ContainsRune(rest, '/') {
		return "", false
	}
	return rest, true
}
