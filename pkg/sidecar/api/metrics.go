package api

import (
	"strconv"
	"sync"
	"time"

	"arxi.dev/arxi/pkg/evidence"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the sidecar's Prometheus metrics, on a registry of its own.
type metrics struct {
	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	rejected       prometheus.Counter
	envelopes      prometheus.Counter
	groupJobs      prometheus.Histogram
	groupEnvelopes prometheus.Histogram
	commitSeconds  prometheus.Histogram
	commitFailures prometheus.Counter
	seals          *prometheus.CounterVec
	verify         *prometheus.CounterVec
	idempotency    *prometheus.CounterVec
	byStatus       sync.Map // opStatus → *requestMetrics
}

func newMetrics(reg *prometheus.Registry, s *Server) *metrics {
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "arxi_sidecar_requests_total",
			Help: "Requests answered, by operation label and HTTP status."}, []string{"operation", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "arxi_sidecar_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer, by operation label and HTTP status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"operation", "status"}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "arxi_sidecar_admission_rejected_total",
			Help: "Requests refused with admission.saturated."}),
		envelopes: prometheus.NewCounter(prometheus.CounterOpts{Name: "arxi_sidecar_envelopes_appended_total",
			Help: "Envelopes durably appended."}),
		groupJobs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "arxi_sidecar_group_commit_requests",
			Help: "Requests per committed transaction (group commit).", Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		groupEnvelopes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "arxi_sidecar_group_commit_envelopes",
			Help: "Envelopes per committed transaction.", Buckets: prometheus.ExponentialBuckets(1, 2, 16)}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "arxi_sidecar_commit_duration_seconds",
			Help: "Time of a durable commit (fsync included).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		commitFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "arxi_sidecar_commit_failures_total",
			Help: "Transactions that did not commit (their requests got the store's error)."}),
		seals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "arxi_sidecar_seals_total",
			Help: "Segments sealed, by reason."}, []string{"reason"}),
		verify: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "arxi_sidecar_verify_total",
			Help: "Bundle verifications, by verdict status (valid, invalid) or error."}, []string{"outcome"}),
		idempotency: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "arxi_sidecar_idempotency_total",
			Help: "Requests with an Idempotency-Key answered from the store (replayed) or refused (conflict, in_progress)."}, []string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.rejected, m.envelopes, m.groupJobs, m.groupEnvelopes,
		m.commitSeconds, m.commitFailures, m.seals, m.verify, m.idempotency} {
		f(c)
	}
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arxi_sidecar_in_flight",
		Help: "Requests holding an admission slot."}, func() float64 { return float64(s.adm.inFlight()) }))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arxi_sidecar_queue_depth",
		Help: "Requests waiting for an admission slot."}, func() float64 { return float64(s.adm.queued()) }))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arxi_sidecar_recorder_queue",
		Help: "Jobs waiting for the recorder (the writer goroutine)."}, func() float64 {
		if b := s.backend.Load(); b != nil {
			return float64(b.Recorder.Queued())
		}
		return 0
	}))
	for _, r := range []evidence.SealReason{evidence.SealManual, evidence.SealAutoCount, evidence.SealAutoDuration, evidence.SealShutdown} {
		m.seals.WithLabelValues(string(r))
	}
	for _, o := range []string{"replayed", "conflict", "in_progress"} {
		m.idempotency.WithLabelValues(o)
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe counts a request and its latency. Each (operation, status)
// pair's counter and histogram are looked up once and kept: a request
// then costs one map read, not two label lookups.
func (m *metrics) observe(op string, status int, d time.Duration) {
	k := opStatus{op, status}
	o, ok := m.byStatus.Load(k)
	if !ok {
		st := strconv.Itoa(status)
		o, _ = m.byStatus.LoadOrStore(k, &requestMetrics{count: m.requests.WithLabelValues(op, st), latency: m.latency.WithLabelValues(op, st)})
	}
	rm := o.(*requestMetrics)
	rm.count.Inc()
	rm.latency.Observe(d.Seconds())
}

type opStatus struct {
	op     string
	status int
}

// requestMetrics are one (operation, status) pair's series.
type requestMetrics struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// Committed implements recorder.Observer.
func (m *metrics) Committed(jobs, envelopes int, took time.Duration) {
	m.envelopes.Add(float64(envelopes))
	m.groupJobs.Observe(float64(jobs))
	m.groupEnvelopes.Observe(float64(envelopes))
	m.commitSeconds.Observe(took.Seconds())
}

// Sealed implements recorder.Observer.
func (m *metrics) Sealed(r evidence.SealReason) { m.seals.WithLabelValues(string(r)).Inc() }

// Failed implements recorder.Observer.
func (m *metrics) Failed(error) { m.commitFailures.Inc() }
