package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sidecar/recorder"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/verify"
	"arxi.dev/arxi/pkg/zstdio"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tidwall/gjson"
)

func jsonReply(status int, body []byte) *Reply {
	return &Reply{Status: status, ContentType: MediaJSON, Body: append(body, '\n')}
}

// Probes.

func (s *Server) health(c *Call) (*Reply, error) {
	return jsonReply(http.StatusOK, []byte(`{"status":"ok"}`)), nil
}

func (s *Server) startup(c *Call) (*Reply, error) {
	if s.state.Load() == starting {
		return jsonReply(http.StatusServiceUnavailable, []byte(`{"status":"starting"}`)), nil
	}
	return jsonReply(http.StatusOK, []byte(`{"status":"started"}`)), nil
}

// readyEvery bounds how often /ready reads the store: probes stay cheap
// under any load.
const readyEvery = 250 * time.Millisecond

func (s *Server) ready(c *Call) (*Reply, error) {
	var reasons []string
	switch s.state.Load() {
	case starting:
		reasons = append(reasons, ReasonStarting)
	case stopping:
		reasons = append(reasons, ReasonStopping)
	}
	if b := s.backend.Load(); b != nil && len(reasons) == 0 {
		if !b.Recorder.Healthy() || s.storageErr(c, b) != nil {
			reasons = append(reasons, ReasonStorageUnavailable)
		}
	}
	if s.sc.Probes.ReadyFailOnAdmissionSaturation && s.adm.saturated() {
		reasons = append(reasons, ReasonAdmissionSaturated)
	}
	for _, check := range s.cfg.ReadyChecks {
		if r := check(); r != "" {
			reasons = append(reasons, r)
		}
	}
	if len(reasons) > 0 {
		return nil, &Problem{Err: errcode.New(errcode.ServiceUnavailable, "the sidecar is not ready"), Reasons: reasons}
	}
	return jsonReply(http.StatusOK, []byte(`{"status":"ready"}`)), nil
}

// storageErr reads the store's last segment, at most every readyEvery;
// between reads, and while one is running, it answers with the last
// result.
func (s *Server) storageErr(c *Call, b *Backend) error {
	s.readyMu.Lock()
	if s.readyBusy || time.Since(s.readyAt) < readyEvery {
		err := s.readyErr
		s.readyMu.Unlock()
		return err
	}
	s.readyBusy = true
	s.readyMu.Unlock()
	err := func() error {
		sn, err := b.Store.Snapshot(c.Context)
		if err != nil {
			return err
		}
		defer sn.Close()
		_, err = sn.LastSegment(c.Context)
		return err
	}()
	s.readyMu.Lock()
	s.readyBusy, s.readyAt, s.readyErr = false, time.Now(), err
	s.readyMu.Unlock()
	if err != nil {
		s.log.Warn("readiness: the store cannot be read", "error", err.Error())
	}
	return err
}

// Writes: each is a recorder job, answered once its transaction is
// durable; its response is rendered in the recorder, so that it can be
// stored with an idempotency key in the same transaction.

func (s *Server) record(c *Call, j *recorder.Job) (*Reply, error) {
	j.Idempotency = c.idem
	b := s.backend.Load()
	_, resp, err := b.Recorder.Do(c.Context, j)
	if err != nil {
		return nil, err
	}
	return &Reply{Status: resp.Status, ContentType: resp.ContentType, Body: resp.Body}, nil
}

func (s *Server) segmentsOpen(c *Call) (*Reply, error) {
	if err := decodeEmpty(c.Body); err != nil {
		return nil, err
	}
	return s.record(c, &recorder.Job{Kind: recorder.OpenSegment, Render: func(o *recorder.Outcome) (*recorder.Response, error) {
		return &recorder.Response{Status: http.StatusCreated, ContentType: MediaJSON, Body: append(o.Genesis.AppendJCS(nil), '\n')}, nil
	}})
}

func (s *Server) segmentsSeal(c *Call) (*Reply, error) {
	if err := decodeSeal(c.Body); err != nil {
		return nil, err
	}
	return s.record(c, &recorder.Job{Kind: recorder.SealSegment, Reason: evidence.SealManual, Render: func(o *recorder.Outcome) (*recorder.Response, error) {
		return &recorder.Response{Status: http.StatusOK, ContentType: MediaJSON, Body: append(o.Seal.AppendJCS(nil), '\n')}, nil
	}})
}

// Written is the evidence a mutating route's reply reports: the receipts
// of the envelopes it wrote, or the segment it opened or sealed.
type Written struct {
	Receipts    []json.RawMessage // canonical receipts (SPEC §8), in input order
	EnvelopeIDs []string          // theirs
	SegmentID   string            // segments.open, segments.seal
}

// Written reads what a successful reply of a mutating route wrote from its
// body, which is the same for a fresh answer and for one replayed for an
// Idempotency-Key: {"envelope","receipt"}, receipt lines, or the genesis
// or seal of a segment (the renders below). Any other reply wrote nothing.
func (r *Reply) Written() Written {
	var w Written
	if r.Status < 200 || r.Status > 299 || r.Stream != nil || r.serve != nil {
		return w
	}
	add := func(rc gjson.Result) {
		w.Receipts = append(w.Receipts, json.RawMessage(rc.Raw))
		w.EnvelopeIDs = append(w.EnvelopeIDs, rc.Get("envelope_id").Str)
	}
	if r.ContentType == MediaNDJSON {
		for line := range bytes.Lines(r.Body) {
			add(gjson.ParseBytes(line))
		}
		return w
	}
	doc := gjson.ParseBytes(r.Body)
	if rc := doc.Get("receipt"); rc.IsObject() {
		add(rc)
	} else if k, _ := evidence.ParseKind(doc.Get("record").Str); k == evidence.KindGenesis || k == evidence.KindSeal {
		w.SegmentID = doc.Get("segment_id").Str
	}
	return w
}

// renderEnvelope is {"envelope":…,"receipt":…}.
func renderEnvelope(o *recorder.Outcome) (*recorder.Response, error) {
	if len(o.Envelopes) != 1 {
		return nil, errcode.New(errcode.Internal, "one envelope recorded as %d", len(o.Envelopes))
	}
	e := o.Envelopes[0]
	// Room for the envelope's fixed members, its signatures and the
	// receipt around the payload: one allocation, as a rule.
	b := make([]byte, 0, len(e.Payload)+1024+160*len(e.Signatures))
	b = append(b, `{"envelope":`...)
	b = e.AppendJCS(b)
	b = append(b, `,"receipt":`...)
	b = o.Receipts[0].AppendJCS(b)
	b = append(b, "}\n"...)
	return &recorder.Response{Status: http.StatusCreated, ContentType: MediaJSON, Body: b}, nil
}

func (s *Server) envelopesRecord(c *Call) (*Reply, error) {
	d := s.decoders.Get().(*evidence.Decoder)
	u, err := decodeUnsealed(d, c.Body)
	s.decoders.Put(d)
	if err != nil {
		return nil, err
	}
	return s.record(c, &recorder.Job{Kind: recorder.Record, Records: []evidence.Record{u}, Render: renderEnvelope})
}

func (s *Server) envelopesWithAttachments(c *Call) (*Reply, error) {
	d := s.decoders.Get().(*evidence.Decoder)
	u, err := decodeWithAttachments(d, c.Body)
	s.decoders.Put(d)
	if err != nil {
		return nil, err
	}
	return s.record(c, &recorder.Job{Kind: recorder.Record, Records: []evidence.Record{u}, Render: renderEnvelope})
}

func (s *Server) envelopesBatch(c *Call) (*Reply, error) {
	recs, lines, err := decodeBatch(c.Body, s.limits())
	if err != nil {
		return nil, err
	}
	// The records hold their own canonical bytes: the body (up to
	// max_body_bytes) need not stay in memory while the job waits.
	c.Body = nil
	return s.record(c, &recorder.Job{Kind: recorder.Record, Records: recs, Lines: lines, Render: func(o *recorder.Outcome) (*recorder.Response, error) {
		var b []byte
		for i := range o.Receipts {
			b = o.Receipts[i].AppendJCS(b)
			b = append(b, '\n')
		}
		return &recorder.Response{Status: http.StatusCreated, ContentType: MediaNDJSON, Body: b}, nil
	}})
}

// limits are the record limits of request bodies: SPEC §16's, the line
// no longer than the body.
func (s *Server) limits() evidence.Limits {
	lim := evidence.DefaultLimits
	lim.Line = min(lim.Line, s.sc.Limits.MaxBodyBytes)
	return lim
}

// Reads: each through one consistent snapshot, which verifies every row
// it returns.

func (s *Server) snapshot(c *Call, f func(*Backend, *store.Snapshot) (*Reply, error)) (*Reply, error) {
	b := s.backend.Load()
	sn, err := b.Store.Snapshot(c.Context)
	if err != nil {
		return nil, err
	}
	defer sn.Close()
	return f(b, sn)
}

func (s *Server) segmentsList(c *Call) (*Reply, error) {
	cursor, limit, err := pageParams(c)
	if err != nil {
		return nil, err
	}
	return s.snapshot(c, func(_ *Backend, sn *store.Snapshot) (*Reply, error) {
		p, err := sn.SegmentPage(c.Context, cursor, limit)
		if err != nil {
			return nil, err
		}
		return jsonReply(http.StatusOK, p.AppendJSON(nil)), nil
	})
}

func (s *Server) segmentsActive(c *Call) (*Reply, error) {
	return s.snapshot(c, func(_ *Backend, sn *store.Snapshot) (*Reply, error) {
		g, err := sn.LastSegment(c.Context)
		if err != nil {
			return nil, err
		}
		if g == nil || g.Sealed() {
			return nil, errcode.New(errcode.SegmentNoneOpen, "no segment is open")
		}
		return jsonReply(http.StatusOK, g.AppendJSON(nil)), nil
	})
}

func (s *Server) queryEnvelopes(c *Call) (*Reply, error) {
	f, cursor, limit, err := decodeQuery(c.Body)
	if err != nil {
		return nil, err
	}
	return s.snapshot(c, func(_ *Backend, sn *store.Snapshot) (*Reply, error) {
		p, err := sn.Query(c.Context, f, cursor, limit)
		if err != nil {
			return nil, err
		}
		return jsonReply(http.StatusOK, p.AppendJSON(nil)), nil
	})
}

// bundleReply streams a bundle written by fill, compressed when the
// client asked for application/zstd: the bytes arxi-bundle writes, with
// or without --zstd. The snapshot stays open until the stream ends.
func (s *Server) bundleReply(c *Call, fill func(*Backend, *store.Snapshot, io.Writer) error) (*Reply, error) {
	b := s.backend.Load()
	sn, err := b.Store.Snapshot(c.Context)
	if err != nil {
		return nil, err
	}
	return &Reply{Status: http.StatusOK, ContentType: c.Accept, Stream: func(w io.Writer) error {
		defer sn.Close()
		if c.Accept != MediaZstd {
			return fill(b, sn, w)
		}
		g := &gate{w: w}
		zw, err := zstdio.NewWriter(g)
		if err != nil {
			return err
		}
		if err := fill(b, sn, zw); err != nil {
			// A build that fails writes nothing: the encoder's empty
			// frame is dropped, and the error is still a problem.
			g.shut = true
			zw.Close()
			return err
		}
		return zw.Close()
	}}, nil
}

func (s *Server) bundleOptions() bundle.Options { return bundle.Options{TempDir: s.cfg.TempDir} }

func (s *Server) bundlesBuild(c *Call) (*Reply, error) {
	sel, err := decodeBuild(c.Body)
	if err != nil {
		return nil, err
	}
	return s.bundleReply(c, func(_ *Backend, sn *store.Snapshot, w io.Writer) error {
		_, err := bundle.Build(c.Context, storesource.New(sn), sel, w, s.bundleOptions())
		return err
	})
}

func (s *Server) bundlesList(c *Call) (*Reply, error) {
	cursor, limit, err := pageParams(c)
	if err != nil {
		return nil, err
	}
	return s.snapshot(c, func(b *Backend, sn *store.Snapshot) (*Reply, error) {
		entries, next, err := b.Catalog.List(c.Context, sn, cursor, limit)
		if err != nil {
			return nil, err
		}
		out := []byte(`{"bundles":[`)
		for i := range entries {
			if i > 0 {
				out = append(out, ',')
			}
			out = entries[i].AppendJSON(out)
		}
		out = append(out, `],"next_cursor":`...)
		if next == "" {
			out = append(out, "null"...)
		} else {
			out = append(out, '"')
			out = append(out, next...) // base64url: nothing to escape
			out = append(out, '"')
		}
		return jsonReply(http.StatusOK, append(out, '}')), nil
	})
}

func (s *Server) bundlesGet(c *Call) (*Reply, error) {
	id, err := scalar.ParseUUID(c.Param)
	if err != nil {
		return nil, errcode.New(errcode.BundleNotFound, "%q is not a bundle id (a UUIDv7)", c.Param)
	}
	b := s.backend.Load()
	// Find the segment first, so that an unknown id is a 404 problem.
	if err := func() error {
		sn, err := b.Store.Snapshot(c.Context)
		if err != nil {
			return err
		}
		defer sn.Close()
		_, err = b.Catalog.Find(c.Context, sn, id)
		return err
	}(); err != nil {
		return nil, err
	}
	return s.bundleReply(c, func(b *Backend, sn *store.Snapshot, w io.Writer) error {
		return b.Catalog.Fetch(c.Context, sn, id, w, s.bundleOptions())
	})
}

func (s *Server) bundlesVerify(c *Call) (*Reply, error) {
	v, err := verify.Bundle(c.Context, c.Request.Body, verify.Config{TrustRoot: s.sc.Resources().TrustRoot})
	if err != nil {
		s.metrics.verify.WithLabelValues("error").Inc()
		return nil, readErr(err)
	}
	s.metrics.verify.WithLabelValues(string(v.Status())).Inc()
	return jsonReply(http.StatusOK, v.AppendJCS(nil)), nil
}

func (s *Server) bundlesInspect(c *Call) (*Reply, error) {
	m, err := bundle.ReadManifest(c.Request.Body)
	if err != nil {
		return nil, readErr(err)
	}
	return jsonReply(http.StatusOK, m.AppendJCS(nil)), nil
}

// readErr classifies an error of a handler that read a streamed body: one
// that arose from the body's bound or deadline is that, not an I/O
// failure.
func readErr(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) || errcode.CodeOf(err) == errcode.IOFailed {
		if e := bodyErr(err); errcode.CodeOf(e) != errcode.IOFailed {
			return e
		}
	}
	return err
}

func (s *Server) configRead(c *Call) (*Reply, error) {
	return jsonReply(http.StatusOK, s.sc.Effective(true)), nil
}

func (s *Server) metricsRead(c *Call) (*Reply, error) {
	return &Reply{serve: promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{})}, nil
}

// gate passes writes through until shut.
type gate struct {
	w    io.Writer
	shut bool
}

func (g *gate) Write(p []byte) (int, error) {
	if g.shut {
		return len(p), nil
	}
	return g.w.Write(p)
}
