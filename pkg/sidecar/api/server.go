// Package api is the sidecar's HTTP/JSON API (SIDECAR.md §2-3): the route
// table, the middleware every request passes, and the handlers, which
// compose the packages the filters use (store, recorder, bundle, verify)
// and write nothing of their own about evidence.
//
// # A request's way
//
//	correlation ids        validate x-correlation-id / x-request-id, mint x-server-correlation-id
//	route                  404 request.not_found, 405 request.method_not_allowed
//	probe?                 /health, /startup, /ready answer here: no auth, no bounds
//	header bytes           431 request.headers_too_large
//	auth                   401 auth.invalid_token (RFC 6750 challenge)
//	media types            415 request.unsupported_media_type, 406 request.not_acceptable
//	declared body size     413 request.too_large
//	admission              503 admission.saturated with Retry-After (max_in_flight, queue_depth)
//	deadline and body      request_timeout; 413 request.too_large, 408 request.timeout
//	interceptors           Config.Intercept: the slot of a policy gate and hooks
//	                       (package enterprise: identity 400, writer lease 409,
//	                       decision 403/429/503, admission and result hooks 502)
//	idempotency            replay, 409 idempotency.conflict / in_progress
//	handler                → a Reply, written last (or a problem)
//
// Every error is an RFC 9457 problem (problem.go) whose type, title and
// status come from the one error registry, pkg/errcode.
package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sidecar/config"
	"arxi.dev/arxi/pkg/sidecar/recorder"
	"arxi.dev/arxi/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Server.
type Config struct {
	Sidecar *config.Config
	// Unix reports that requests arrive on a Unix socket (metrics need no
	// token there).
	Unix bool
	// TempDir holds the bodies of bundles being built; "" is the
	// system's.
	TempDir  string
	Logger   *slog.Logger
	Registry *prometheus.Registry // nil: a new one
	Clock    func() time.Time     // nil: time.Now
	// Intercept wraps every non-probe handler, outermost first, inside
	// admission and the body read and outside idempotency: the place of a
	// policy gate (before the handler) and of hooks (after it). Metrics
	// routes do not pass it.
	Intercept []Middleware
	// ReadyChecks are more checks of /ready: each returns a readiness
	// reason (vocabulary.go), or "" when it finds nothing wrong, at once:
	// a probe never waits for one.
	ReadyChecks []func() string
}

// Backend is what the API serves once the store is open: the store, its
// writer, and the catalog of canonical bundles.
type Backend struct {
	Store    *store.Store
	Recorder *recorder.Recorder
	Catalog  *storesource.Catalog
}

// Server serves the API. Until SetBackend it answers probes (503 on
// /startup and /ready) and refuses every other route with 503
// service.unavailable.
type Server struct {
	cfg     Config
	sc      *config.Config
	log     *slog.Logger
	clock   func() time.Time
	routes  []Route
	chain   handler // the non-probe chain below admission
	metrics *metrics
	adm     *admission
	token   [32]byte // SHA-256 of the token; compared in constant time
	backend atomic.Pointer[Backend]
	state   atomic.Int32
	idem    keyLocks
	// decoders are the request decoders' evidence.Decoders, whose
	// scratch memory outlives a request.
	decoders sync.Pool

	readyMu   sync.Mutex
	readyAt   time.Time
	readyErr  error
	readyBusy bool
}

const (
	starting int32 = iota
	started
	stopping
)

// handler is one stage of the chain: it returns the reply to write, or
// the error to write as a problem.
type handler func(*Call) (*Reply, error)

// Middleware wraps a handler stage.
type Middleware func(next func(*Call) (*Reply, error)) func(*Call) (*Reply, error)

// Call is one request on its way through the chain.
type Call struct {
	Route       *Route
	Request     *http.Request
	Param       string // the path parameter, if the route has one
	Correlation string // the client's correlation id, or the server's
	ServerID    string
	Accept      string // the response media type negotiated
	Body        []byte // the request body, for routes that are not streamed
	Context     context.Context

	w       http.ResponseWriter
	idem    *recorder.Idempotency
	cleanup []func() // run once the reply is written, last first
	start   time.Time
	status  int
}

// Reply is a handler's response: a body, a stream, or an http.Handler.
type Reply struct {
	Status      int
	ContentType string
	Body        []byte
	Header      http.Header
	// Stream writes the body; nothing is sent before its first write, so
	// an error before then is still answered with a problem.
	Stream func(w io.Writer) error
	serve  http.Handler
}

// New returns a server for cfg.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	sc := cfg.Sidecar
	s := &Server{cfg: cfg, sc: sc, log: cfg.Logger, clock: cfg.Clock,
		adm: newAdmission(sc.Limits.MaxInFlight, sc.Limits.QueueDepth)}
	if tok := sc.Token(); tok != nil {
		s.token = scalar.Sum(tok)
	}
	s.decoders.New = func() any { return evidence.NewDecoder(s.limits()) }
	s.routes = s.table()
	s.metrics = newMetrics(cfg.Registry, s)
	var h handler = s.idempotent
	for i := len(cfg.Intercept) - 1; i >= 0; i-- {
		h = cfg.Intercept[i](h)
	}
	s.chain = h
	return s
}

// Observer is the recorder's observer feeding the server's metrics.
func (s *Server) Observer() recorder.Observer { return s.metrics }

// SetBackend makes the server serve b: /startup turns 200.
func (s *Server) SetBackend(b *Backend) {
	s.backend.Store(b)
	s.state.CompareAndSwap(starting, started)
}

// Stopping marks the server as shutting down: /ready answers 503.
func (s *Server) Stopping() { s.state.Store(stopping) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &Call{Request: r, w: w, start: time.Now(), Context: r.Context()}
	c.ServerID = newID()
	w.Header().Set(HeaderServerCorrelationID, c.ServerID)
	c.Correlation = c.ServerID
	op := opNone
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic in a handler", "panic", v, "correlation_id", c.Correlation, "server_correlation_id", c.ServerID)
			s.fail(c, errcode.New(errcode.Internal, "internal error"))
		}
		s.metrics.observe(op, c.status, time.Since(c.start))
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			return
		}
		s.log.Debug("request", "operation", op, "method", r.Method, "path", r.URL.Path, "status", c.status,
			"duration_ms", float64(time.Since(c.start).Microseconds())/1000, "correlation_id", c.Correlation, "server_correlation_id", c.ServerID)
	}()
	if err := s.correlate(c); err != nil {
		s.fail(c, err)
		return
	}
	rt, param, allow := match(s.routes, r.Method, r.URL.Path)
	if rt == nil {
		if len(allow) > 0 {
			s.fail(c, &Problem{Err: errcode.New(errcode.RequestMethodNotAllowed, "%s does not take %s; it takes %s", r.URL.Path, r.Method, strings.Join(allow, ", ")), Allow: allow})
		} else {
			s.fail(c, errcode.New(errcode.RequestNotFound, "no route %s", r.URL.Path))
		}
		return
	}
	op = rt.Operation
	c.Route, c.Param = rt, param
	if rt.Probe {
		s.reply(c, rt.handle)
		return
	}
	s.reply(c, s.bounded)
}

// bounded is the chain of every non-probe route.
func (s *Server) bounded(c *Call) (*Reply, error) {
	rt, r := c.Route, c.Request
	lim := &s.sc.Limits
	if n := headerBytes(r); n > lim.MaxHeaderBytes {
		return nil, errcode.New(errcode.RequestHeadersTooLarge, "the request line and headers are %d bytes; the limit is %d", n, lim.MaxHeaderBytes)
	}
	if err := s.authorize(c); err != nil {
		return nil, err
	}
	if err := negotiate(c); err != nil {
		return nil, err
	}
	if err := checkQuery(c); err != nil {
		return nil, err
	}
	if rt.Consumes != nil && r.ContentLength > int64(lim.MaxBodyBytes) {
		return nil, errcode.New(errcode.RequestTooLarge, "the body is declared as %d bytes; the limit is %d", r.ContentLength, lim.MaxBodyBytes)
	}
	if rt.Metrics {
		if !s.sc.Metrics.Enabled {
			return nil, errcode.New(errcode.RequestNotFound, "metrics are disabled (metrics.enabled = false)")
		}
		return rt.handle(c)
	}
	b := s.backend.Load()
	if b == nil || s.state.Load() == starting {
		return nil, &Problem{Err: errcode.New(errcode.ServiceUnavailable, "the sidecar is starting: its store is not open yet"), Reasons: []string{ReasonStarting}}
	}
	deadline := c.start.Add(lim.RequestTimeout.Duration)
	ctx, cancel := context.WithDeadlineCause(r.Context(), deadline, errTimedOut)
	c.cleanup = append(c.cleanup, cancel)
	c.Context = ctx
	release, err := s.adm.acquire(ctx)
	if err != nil {
		s.metrics.rejected.Inc()
		return nil, err
	}
	// The slot is held until the reply is written: a streamed bundle is
	// work in flight.
	c.cleanup = append(c.cleanup, release)
	rc := http.NewResponseController(c.w)
	rc.SetReadDeadline(deadline)
	rc.SetWriteDeadline(deadline.Add(time.Second))
	if rt.Consumes != nil {
		body := http.MaxBytesReader(c.w, r.Body, int64(lim.MaxBodyBytes))
		if rt.Streamed {
			r.Body = body
		} else {
			data, err := readWhole(body, r.ContentLength)
			if err != nil {
				return nil, bodyErr(err)
			}
			c.Body = data
		}
	}
	return s.chain(c)
}

var errTimedOut = errors.New("request_timeout")

// readWhole reads a body whole, into one buffer when its length is
// declared (already checked against max_body_bytes); the body's own bound
// still ends a longer one.
func readWhole(body io.Reader, declared int64) ([]byte, error) {
	if declared <= 0 {
		return io.ReadAll(body)
	}
	buf := make([]byte, 0, declared+1) // +1: the EOF read needs no growth
	for {
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF):
			return buf, nil
		case err != nil:
			return buf, err
		case len(buf) == cap(buf):
			buf = append(buf, 0)[:len(buf)] // longer than declared: grow
		}
	}
}

// bodyErr classifies an error reading a request body.
func bodyErr(err error) error {
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		return errcode.New(errcode.RequestTooLarge, "the body exceeds %d bytes", mb.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), errors.Is(err, errTimedOut):
		return errcode.New(errcode.RequestTimeout, "the body did not arrive within request_timeout")
	}
	return errcode.Wrap(errcode.IOFailed, err, "read the request body")
}

// headerBytes is the size of the request line and headers as sent.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// errNoToken marks an authentication failure without credentials: its
// challenge carries no error (RFC 6750 §3.1).
var errNoToken = errors.New("no credentials")

func (s *Server) authorize(c *Call) error {
	if s.sc.Auth.Mode == "open" || (c.Route.Metrics && s.cfg.Unix) {
		return nil
	}
	h := c.Request.Header.Values("Authorization")
	if len(h) == 0 {
		return errcode.Wrap(errcode.AuthInvalidToken, errNoToken, "the request has no Authorization header; send Authorization: Bearer <token>")
	}
	tok, ok := strings.CutPrefix(h[0], "Bearer ")
	if len(h) > 1 || !ok {
		return errcode.New(errcode.AuthInvalidToken, "the Authorization header is not one Bearer token")
	}
	got := scalar.Sum([]byte(tok))
	if subtle.ConstantTimeCompare(got[:], s.token[:]) != 1 {
		return errcode.New(errcode.AuthInvalidToken, "the bearer token is not the sidecar's")
	}
	return nil
}

// correlate validates the client's correlation id and echoes it.
func (s *Server) correlate(c *Call) error {
	for _, name := range []string{HeaderCorrelationID, HeaderRequestID} {
		vs := c.Request.Header.Values(name)
		if len(vs) == 0 {
			continue
		}
		if len(vs) > 1 || !printable(vs[0], 128) {
			return &errcode.Error{Code: errcode.RequestHeaderInvalid, Field: strings.ToLower(name), Msg: "a correlation id is one value of 1 to 128 printable ASCII characters"}
		}
		if c.Correlation == c.ServerID {
			c.Correlation = vs[0]
			c.w.Header().Set(HeaderCorrelationID, vs[0])
		}
		if name == HeaderRequestID {
			c.w.Header().Set(HeaderRequestID, vs[0])
		}
	}
	return nil
}

// printable reports whether v is 1 to max printable ASCII characters.
func printable(v string, max int) bool {
	if len(v) == 0 || len(v) > max {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// reply runs h and writes its reply, or its error as a problem.
func (s *Server) reply(c *Call, h handler) {
	defer func() {
		for i := len(c.cleanup) - 1; i >= 0; i-- {
			c.cleanup[i]()
		}
	}()
	rep, err := h(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	hd := c.w.Header()
	for k, vs := range rep.Header {
		hd[k] = vs
	}
	if rep.serve != nil {
		sw := &statusWriter{ResponseWriter: c.w, status: 200}
		rep.serve.ServeHTTP(sw, c.Request)
		c.status = sw.status
		return
	}
	if rep.ContentType != "" {
		hd.Set("Content-Type", rep.ContentType)
	}
	hd.Set("Cache-Control", "no-store")
	if rep.Stream == nil {
		hd.Set("Content-Length", strconv.Itoa(len(rep.Body)))
		c.status = rep.Status
		c.w.WriteHeader(rep.Status)
		c.w.Write(rep.Body)
		return
	}
	lw := &lazyWriter{w: c.w, status: rep.Status}
	if err := rep.Stream(lw); err != nil {
		if !lw.started {
			s.fail(c, err)
			return
		}
		// Part of the body is gone: the client must not take the rest for
		// a whole one.
		s.log.Error("response stream failed", "operation", c.Route.Operation, "error", err, "correlation_id", c.Correlation,
			"server_correlation_id", c.ServerID)
		c.status = rep.Status
		panic(http.ErrAbortHandler)
	}
	if !lw.started {
		c.w.WriteHeader(rep.Status)
	}
	c.status = rep.Status
}

// fail writes err as a problem and logs server errors.
func (s *Server) fail(c *Call, err error) {
	status := StatusOf(err)
	c.status = status
	if status >= 500 && errcode.CodeOf(err) != errcode.AdmissionSaturated && errcode.CodeOf(err) != errcode.ServiceUnavailable {
		op := opNone
		if c.Route != nil {
			op = c.Route.Operation
		}
		s.log.Error("request failed", "operation", op, "status", status, "error", err.Error(), "correlation_id", c.Correlation,
			"server_correlation_id", c.ServerID)
	}
	writeProblem(c.w, err, c.Correlation, 1)
}

// lazyWriter sends the status line at the first write.
type lazyWriter struct {
	w       http.ResponseWriter
	status  int
	started bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.w.WriteHeader(l.status)
	}
	return l.w.Write(p)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// newID is a random UUIDv7: the server's correlation id of a response.
func newID() string {
	u, err := scalar.NewRandomUUID7()
	if err != nil {
		return "00000000-0000-7000-8000-000000000000"
	}
	return u.String()
}

// admission bounds the requests in flight and those waiting for a slot.
type admission struct {
	slots    chan struct{}
	waiting  atomic.Int64
	queueMax int64
}

func newAdmission(inFlight, queue int) *admission {
	return &admission{slots: make(chan struct{}, inFlight), queueMax: int64(queue)}
}

func (a *admission) acquire(ctx context.Context) (func(), error) {
	release := func() { <-a.slots }
	select {
	case a.slots <- struct{}{}:
		return release, nil
	default:
	}
	if a.waiting.Add(1) > a.queueMax {
		a.waiting.Add(-1)
		return nil, errcode.New(errcode.AdmissionSaturated, "%d requests are in flight and %d waiting; retry later", cap(a.slots), a.queueMax)
	}
	defer a.waiting.Add(-1)
	select {
	case a.slots <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, errcode.New(errcode.AdmissionSaturated, "no slot came free within request_timeout; retry later")
	}
}

func (a *admission) inFlight() int   { return len(a.slots) }
func (a *admission) queued() int     { return int(a.waiting.Load()) }
func (a *admission) saturated() bool { return a.waiting.Load() >= a.queueMax }
