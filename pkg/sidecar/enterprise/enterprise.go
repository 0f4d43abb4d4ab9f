// Package enterprise is the sidecar's control-plane bridge (SIDECAR.md
// §4): in a managed deployment an external control plane decides who may
// record, query and export evidence, and the sidecar enforces its answers
// and reports what it did. The bridge has no authority over evidence: it
// can refuse a request, never change a record.
//
// # A request's way through the gate
//
// Bridge.Gate is an api.Middleware, in the API's interceptor slot: inside
// authentication, admission and the body read, outside idempotency and
// the handler. For every request but the probes and /metrics:
//
//	identity        x-tenant-id, x-principal-id, x-authn-method, x-namespace-id
//	                → 400 enterprise.identity_invalid naming the header
//	writer lease    with require_writer_lease, a mutating request without
//	                x-arxi-writer-lease: true → 409 enterprise.writer_lease_required
//	decision        POST {url}/v1/enterprise/sidecar/authorize, one call:
//	                deny → 403 enterprise.denied, quota.remaining 0 → 429
//	                enterprise.quota_exhausted, anything but an explicit allow
//	                (unreachable, slower than decision_timeout, not 200
//	                application/json, not a decision) → 503 enterprise.unavailable
//	admission hook  POST {url}/v1/enterprise/sidecar/hooks, phase admission;
//	                undelivered → 502 enterprise.hook_failed, nothing done
//	handler         (idempotency first: a replay is answered from the store)
//	result hook     phase result with the status, the outcome and the envelope
//	                ids; undelivered after a successful mutating operation →
//	                502 enterprise.hook_failed with the durable receipts; after
//	                anything else, logged and counted, the answer unchanged
//
// The local checks come first, so a request they refuse costs the control
// plane nothing. The gate never fails open: the handler runs only after
// the control plane said allow and was told of the admission.
//
// # Readiness
//
// With readiness_mode = "storage_and_enterprise", Watch polls GET
// {url}/v1/enterprise/sidecar/ready every second and Ready reports
// control_plane_unavailable until a poll gets a 200; a probe reads the
// last result and never waits for the control plane.
package enterprise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sidecar/api"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Bridge.
type Config struct {
	URL     string        // enterprise.control_plane_url
	Token   []byte        // sent to the control plane as Authorization: Bearer
	Timeout time.Duration // enterprise.decision_timeout: the bound of each call
	// RequireWriterLease refuses mutating requests without
	// x-arxi-writer-lease: true.
	RequireWriterLease bool
	// Conns is how many connections to the control plane are kept open:
	// the sidecar's max_in_flight, the most calls at once.
	Conns    int
	Logger   *slog.Logger         // nil: discard
	Registry *prometheus.Registry // the API's registry; nil: no metrics
}

// ReadyEvery is how often Watch asks the control plane whether it is
// ready.
const ReadyEvery = time.Second

// Bridge enforces the control plane's decisions and sends it the hooks.
type Bridge struct {
	cfg     Config
	cp      *client
	log     *slog.Logger
	metrics *metrics
	ready   atomic.Bool
}

// New returns a bridge to the control plane of cfg.
func New(cfg Config) *Bridge {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 64
	}
	return &Bridge{cfg: cfg, cp: newClient(cfg), log: cfg.Logger, metrics: newMetrics(cfg.Registry)}
}

// Close closes the connections to the control plane.
func (b *Bridge) Close() { b.cp.close() }

// Gate is the bridge's api.Middleware (see the package documentation).
func (b *Bridge) Gate(next func(*api.Call) (*api.Reply, error)) func(*api.Call) (*api.Reply, error) {
	return func(c *api.Call) (*api.Reply, error) {
		rt := c.Route
		id, err := IdentityOf(c.Request.Header)
		if err != nil {
			return nil, err
		}
		if b.cfg.RequireWriterLease && rt.Mutating {
			if err := writerLease(c.Request.Header); err != nil {
				return nil, err
			}
		}
		if err := b.decide(c, id); err != nil {
			return nil, err
		}
		h := &HookRequest{Phase: api.PhaseAdmission, Operation: rt.Operation, TenantID: id.Tenant.String(), PrincipalID: id.Principal.String(),
			CorrelationID: c.Correlation, Outcome: api.OutcomeAdmitted, EnvelopeIDs: []string{}}
		if err := b.hook(c.Context, h); err != nil {
			return nil, errcode.Wrap(errcode.EnterpriseHookFailed, err,
				"the admission hook could not be delivered to the control plane; nothing was done, retry later")
		}
		rep, err := next(c)
		if err == nil && rep.Stream != nil {
			// The answer's status is known once its body is sent: the
			// result hook follows the stream, and cannot change it.
			stream := rep.Stream
			rep.Stream = func(w io.Writer) error {
				serr := stream(w)
				b.result(c, h, rep, serr)
				return serr
			}
			return rep, nil
		}
		if herr := b.result(c, h, rep, err); herr != nil && err == nil && rt.Mutating && rep.Status/100 == 2 {
			w := rep.Written()
			return nil, &api.Problem{Err: &errcode.Error{Code: errcode.EnterpriseHookFailed, Segment: w.SegmentID, Err: herr,
				Msg: "the result hook could not be delivered to the control plane, but the evidence is durable (the receipts member, or segment_id, names it); " +
					"a retry with the same Idempotency-Key gets the stored answer and writes nothing again"}, Receipts: w.Receipts}
		}
		return rep, err
	}
}

// decide asks the control plane for its decision on the request: nil on
// an explicit allow, the problem of any other end.
func (b *Bridge) decide(c *api.Call, id Identity) error {
	op := c.Route.Operation
	start := time.Now()
	req := &AuthorizeRequest{AuthnMethod: id.AuthnMethod, CorrelationID: c.Correlation, Operation: op,
		PrincipalID: id.Principal.String(), TenantID: id.Tenant.String()}
	if !id.Namespace.IsZero() {
		ns := id.Namespace.String()
		req.NamespaceID = &ns
	}
	status, ctype, answer, err := b.cp.call(c.Context, &authorize, req)
	var d Decision
	outcome := api.DecisionUnavailable
	switch {
	case err != nil && errors.Is(err, errAnswer):
		outcome = api.DecisionMalformed
	case err != nil:
	case !authorize.Succeeded(status):
		err = fmt.Errorf("the authorize call was answered with HTTP status %d", status)
	case !isJSON(ctype):
		outcome, err = api.DecisionMalformed, fmt.Errorf("the authorize answer's Content-Type is not %s", api.MediaJSON)
	default:
		if d, err = DecodeDecision(answer); err != nil {
			// The cause names the rule and the path, never a value or a
			// key of the answer: a control plane that echoes what it got
			// must not put the token into the log.
			outcome, err = api.DecisionMalformed, fmt.Errorf("the answer is not a decision: %s at %s", errcode.CodeOf(err), fieldOf(err))
		} else {
			outcome = d.Outcome
		}
	}
	b.metrics.decided(outcome, time.Since(start))
	reason := b.shown(d.Reason)
	switch outcome {
	case api.DecisionAllow:
		return nil
	case api.DecisionDeny:
		return errcode.New(authorize.Refusals[outcome], "the control plane denied %s to this identity%s", op, reason)
	case api.DecisionQuotaExhausted:
		return errcode.New(authorize.Refusals[outcome], "the control plane reports no quota left for %s to this identity%s", op, reason)
	case api.DecisionMalformed:
		return errcode.Wrap(authorize.Refusals[outcome], err, "the control plane's answer to the authorize call is not a decision; nothing was done, retry later")
	}
	return errcode.Wrap(authorize.Refusals[api.DecisionUnavailable], err, "the control plane gave no decision (unreachable, failing, or slower than decision_timeout %s); nothing was done, retry later", b.cfg.Timeout)
}

// fieldOf is the JSON path of a decoding error, "$" when it has none.
func fieldOf(err error) string {
	if e, ok := errcode.As(err); ok && e.Field != "" {
		return e.Field
	}
	return "$"
}

// shown is the control plane's reason as a problem's detail shows it: a
// SPEC §2 label (so no control characters and at most 256 bytes), and
// never one that carries the bridge's token.
func (b *Bridge) shown(reason string) string {
	if reason == "" {
		return ""
	}
	if _, err := scalar.ParseLabel(reason); err != nil || len(b.cfg.Token) > 0 && strings.Contains(reason, string(b.cfg.Token)) {
		return " (its reason is withheld: not a printable label of at most 256 bytes)"
	}
	return ": " + reason
}

// result sends the result hook of a request that ended with rep or err
// (or, for a streamed answer, whose stream ended with err), and returns
// the error of a hook that was not delivered, once logged and counted.
func (b *Bridge) result(c *api.Call, h *HookRequest, rep *api.Reply, err error) error {
	r := *h
	r.Phase = api.PhaseResult
	var status int
	switch {
	case err != nil:
		status, r.Outcome = api.StatusOf(err), api.OutcomeFailed
	case rep.Status/100 != 2:
		status, r.Outcome = rep.Status, api.OutcomeFailed
	default:
		status, r.Outcome = rep.Status, api.OutcomeSucceeded
		if rep.Header.Get(api.HeaderIdempotencyReplayed) == api.HeaderTrue {
			r.Outcome = api.OutcomeReplayed
		}
		r.EnvelopeIDs = rep.Written().EnvelopeIDs
	}
	r.Status = &status
	if r.EnvelopeIDs == nil {
		r.EnvelopeIDs = []string{}
	}
	// The result is reported even when the client has gone: the work is
	// done.
	herr := b.hook(context.WithoutCancel(c.Context), &r)
	if herr != nil && !(err == nil && c.Route.Mutating && status/100 == 2) {
		b.log.Warn("the result hook could not be delivered to the control plane", "operation", r.Operation, "status", status,
			"error", herr.Error(), "correlation_id", c.Correlation, "server_correlation_id", c.ServerID)
	}
	return herr
}

// hook delivers one hook: any 2xx answer is a delivery.
func (b *Bridge) hook(ctx context.Context, h *HookRequest) error {
	status, _, _, err := b.cp.call(ctx, &hooks, h)
	if err == nil && !hooks.Succeeded(status) {
		err = fmt.Errorf("the %s hook was answered with HTTP status %d", h.Phase, status)
	}
	if err != nil {
		b.metrics.hookFailures.WithLabelValues(h.Phase).Inc()
	}
	return err
}

// Ready is the bridge's readiness check (api.Config.ReadyChecks):
// control_plane_unavailable until Watch's last poll got a 200.
func (b *Bridge) Ready() string {
	if b.ready.Load() {
		return ""
	}
	return api.ReasonControlPlaneUnavailable
}

// Watch polls the control plane's readiness every ReadyEvery until ctx
// ends; it returns at once.
func (b *Bridge) Watch(ctx context.Context) {
	go func() {
		t := time.NewTicker(ReadyEvery)
		defer t.Stop()
		for {
			b.poll(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (b *Bridge) poll(ctx context.Context) {
	status, _, _, err := b.cp.call(ctx, &readiness, nil)
	ok := err == nil && readiness.Succeeded(status)
	if was := b.ready.Swap(ok); was != ok {
		if ok {
			b.log.Info("the control plane is ready")
		} else {
			msg := "HTTP status " + strconv.Itoa(status)
			if err != nil {
				msg = err.Error()
			}
			b.log.Warn("the control plane is not ready: /ready answers 503 control_plane_unavailable", "error", msg)
		}
	}
}

// metrics are the bridge's Prometheus metrics, on the API's registry.
type metrics struct {
	decisions    *prometheus.CounterVec
	latency      prometheus.Histogram
	hookFailures *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "arxi_sidecar_enterprise_decisions_total",
			Help: "Control-plane decisions, by outcome: allow, deny, quota_exhausted, unavailable, malformed."}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "arxi_sidecar_enterprise_decision_duration_seconds",
			Help:    "Time of an authorize call to the control plane, answered or not.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
		hookFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "arxi_sidecar_enterprise_hook_failures_total",
			Help: "Hooks the control plane did not take (unreachable, slow, not 2xx), by phase."}, []string{"phase"}),
	}
	for _, o := range api.Vocabulary().Decisions {
		m.decisions.WithLabelValues(o)
	}
	for _, p := range api.Vocabulary().Phases {
		m.hookFailures.WithLabelValues(p)
	}
	if reg != nil {
		reg.MustRegister(m.decisions, m.latency, m.hookFailures)
	}
	return m
}

func (m *metrics) decided(outcome string, took time.Duration) {
	m.decisions.WithLabelValues(outcome).Inc()
	m.latency.Observe(took.Seconds())
}
