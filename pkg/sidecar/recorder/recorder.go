// Package recorder is the sidecar's writer: one goroutine that owns the
// store's chain and commits the work of concurrent requests in groups
// (SIDECAR.md §3, "durable group commit").
//
// Requests hand it Jobs: envelopes (and attachment records) to record, a
// segment to open or to seal. The goroutine takes every job waiting, seals
// each in turn with a sealing.Sealer started from the chain state the job
// before it left, writes the records through the store's Appender into
// one transaction, and commits it; only then is each job answered. So a
// response is never sent for evidence that is not durable, and many
// requests share one fsync.
//
// A job fails alone. A rejection by the sealer (an attachment reference
// that resolves to nothing, say) leaves the chain as the job found it,
// and the group goes on. A rejection by the store (an envelope id that is
// already stored) discards the whole transaction, as every store error
// does: the jobs before the failing one are then sealed again and
// committed on their own, the failing one is answered with its error, and
// the group goes on after it. Sealing is deterministic, so the second
// sealing gives the same records; each job is sealed at most twice.
//
// A job may carry an idempotency key: its rendered response is then stored
// with the request hash in the transaction of its evidence (store
// IdempotencyRow), so a crash never keeps one without the other.
package recorder

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
)

// Config configures a Recorder.
type Config struct {
	Store        *store.Store
	RecorderID   scalar.Label
	MaxEnvelopes uint64        // auto-seal by count; 0 for sealing.DefaultMaxEnvelopes
	MaxDuration  time.Duration // auto-seal on event time; 0 for none
	Signers      []sealing.Signer
	// Clock is the time of operator seals, opened segments and
	// idempotency records; nil is time.Now.
	Clock func() time.Time
	// MaxGroup bounds the envelopes of one transaction (a job is never
	// split); 0 means DefaultMaxGroup.
	MaxGroup int
	// Queue is the capacity of the job queue; 0 means 1024.
	Queue int
	// Linger is how long the writer waits for more jobs before it commits
	// a group, while it is busy (the group before took more than one
	// job); 0 means DefaultLinger, negative never waits. An idle writer
	// never waits: a lone request is committed at once.
	Linger time.Duration
	// IdempotencyTTL and IdempotencyMax prune the stored idempotency
	// records, at most once a second, in a transaction that writes one.
	IdempotencyTTL time.Duration
	IdempotencyMax int
	// Observer, when set, is told about commits and seals.
	Observer Observer
}

// DefaultMaxGroup is the default bound of a group's envelopes.
const DefaultMaxGroup = 4096

// DefaultLinger is the default Linger: long enough for the requests a
// commit's answers release to come back, short beside the commit's fsync.
const DefaultLinger = 200 * time.Microsecond

// Observer receives the recorder's events (for metrics).
type Observer interface {
	// Committed reports a durable transaction of jobs holding envelopes.
	Committed(jobs, envelopes int, took time.Duration)
	// Sealed reports a committed seal.
	Sealed(reason evidence.SealReason)
	// Failed reports a transaction that did not commit.
	Failed(err error)
}

// Kind is what a job does.
type Kind uint8

// The job kinds.
const (
	Record      Kind = iota + 1 // seal and store Records
	OpenSegment                 // open a segment by hand (clock time, random id)
	SealSegment                 // seal the open segment with Reason (clock time)
)

// Job is one request's work.
type Job struct {
	Kind Kind
	// Records are, for Record, unsealed envelopes and attachment records
	// in input order; Lines, when set, are their input line numbers, for
	// errors.
	Records []evidence.Record
	Lines   []int64
	// Reason is the seal reason of SealSegment: manual or shutdown.
	Reason evidence.SealReason
	// Idempotency, when set, stores the job's response under a key.
	Idempotency *Idempotency
	// Render makes the job's response from its outcome; it runs in the
	// recorder before the commit (the response is stored with an
	// idempotency key) and must not block.
	Render func(*Outcome) (*Response, error)

	state    atomic.Int32
	final    bool // the last job, sent by Close
	done     chan struct{}
	at       scalar.Timestamp // clock time, fixed at the first sealing
	segID    scalar.UUID
	envelope int // envelopes in Records, for group sizes

	out  Outcome
	resp *Response
	err  error
}

// Idempotency is a job's key and request hash.
type Idempotency struct {
	Key         string
	RequestHash scalar.Digest
}

// Outcome is what a job wrote.
type Outcome struct {
	Records   []evidence.Record    // every record written, in stream order
	Envelopes []*evidence.Envelope // the envelopes among them
	Receipts  []store.Receipt      // one per envelope
	Genesis   *evidence.Genesis    // OpenSegment: the genesis
	Seal      *evidence.Seal       // SealSegment: the seal
}

// Response is a rendered HTTP response.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
}

const (
	queued int32 = iota
	taken
	cancelled
)

// Recorder is the writer goroutine and its chain state.
type Recorder struct {
	cfg   Config
	app   *store.Appender
	jobs  chan *Job
	stop  chan struct{} // closed by Close: no new jobs
	done  chan struct{} // closed when the goroutine has ended
	ctx   context.Context
	clock func() time.Time

	committed, cur chain
	lastPrune      time.Time
	broken         error // an invariant failed: every job fails with it

	closeOnce sync.Once
	healthy   atomic.Bool
}

// chain is the state a sealer starts from: an open segment, or the link
// of the next one.
type chain struct {
	genesis     *evidence.Genesis
	ch          *evidence.Chain // owned: sealers extend it in place
	lastClaimed scalar.Timestamp
	pred        *evidence.Link
}

func (c chain) clone() chain {
	if c.ch != nil {
		ch := *c.ch
		ch.Merkle = *c.ch.Merkle.Clone()
		c.ch = &ch
	}
	if c.pred != nil {
		p := *c.pred
		c.pred = &p
	}
	return c
}

func (c *chain) start() sealing.Start {
	if c.genesis != nil {
		return sealing.Start{Open: &sealing.Open{Genesis: c.genesis, Chain: c.ch, LastClaimedAt: c.lastClaimed}}
	}
	return sealing.Start{Predecessor: c.pred}
}

// Start loads the store's chain state (verifying the open segment's tail
// at the store's verify depth, rebuilding its Merkle accumulator) and
// starts the writer goroutine, which runs until Close.
func Start(ctx context.Context, cfg Config) (*Recorder, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxGroup <= 0 {
		cfg.MaxGroup = DefaultMaxGroup
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	if cfg.Linger == 0 {
		cfg.Linger = DefaultLinger
	}
	if _, err := sealing.New(sealing.Config{RecorderID: cfg.RecorderID, MaxEnvelopes: cfg.MaxEnvelopes, MaxDuration: cfg.MaxDuration, Signers: cfg.Signers}); err != nil {
		return nil, err
	}
	h, err := cfg.Store.Head(ctx, true)
	if err != nil {
		return nil, err
	}
	ids := make([]scalar.KeyID, len(cfg.Signers))
	for i, sg := range cfg.Signers {
		ids[i] = sg.KeyID()
	}
	if err := h.CheckSigners(ids); err != nil { // SPEC §11.1: the store's current key signs
		return nil, err
	}
	app, err := cfg.Store.Appender(ctx)
	if err != nil {
		return nil, err
	}
	r := &Recorder{cfg: cfg, app: app, jobs: make(chan *Job, cfg.Queue), stop: make(chan struct{}), done: make(chan struct{}),
		ctx: context.WithoutCancel(ctx), clock: cfg.Clock}
	if h.Genesis != nil {
		r.cur = chain{genesis: h.Genesis, ch: h.Chain, lastClaimed: h.LastClaimedAt}
	} else {
		r.cur = chain{pred: h.Last}
	}
	if err := r.consistent(); err != nil {
		app.Close()
		return nil, err
	}
	r.committed = r.cur.clone()
	r.healthy.Store(true)
	go r.run()
	return r, nil
}

// consistent checks that the chain state agrees with the appender's
// committed state.
func (r *Recorder) consistent() error {
	o := r.app.OpenSegment()
	switch {
	case o == nil && r.cur.genesis == nil:
		return nil
	case o != nil && r.cur.genesis != nil && o.Genesis.SegmentID == r.cur.genesis.SegmentID && o.Count == r.cur.ch.Count && o.Head == r.cur.ch.Head:
		return nil
	}
	return errcode.New(errcode.Internal, "the recorder's chain state disagrees with the store's")
}

// Healthy reports whether the last transaction committed.
func (r *Recorder) Healthy() bool { return r.healthy.Load() }

// Queued is the number of jobs waiting for the writer.
func (r *Recorder) Queued() int { return len(r.jobs) }

// errStopped answers jobs once the recorder is closing.
var errStopped = errcode.New(errcode.ServiceUnavailable, "the sidecar is shutting down")

// Do submits the job and waits for its answer: its outcome and rendered
// response once the job's transaction is durable, or its error. When ctx
// ends while the job still waits in the queue it is withdrawn and Do
// returns request.timeout; once the writer has taken it, Do waits for the
// commit whatever ctx says, so an answer always tells the truth about the
// store.
func (r *Recorder) Do(ctx context.Context, j *Job) (*Outcome, *Response, error) {
	j.done = make(chan struct{})
	for _, rec := range j.Records {
		if rec.Kind() == evidence.KindUnsealed {
			j.envelope++
		}
	}
	select {
	case <-r.stop:
		return nil, nil, errStopped
	default:
	}
	select {
	case r.jobs <- j:
	case <-ctx.Done():
		return nil, nil, timeout(ctx)
	case <-r.stop:
		return nil, nil, errStopped
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		if j.state.CompareAndSwap(queued, cancelled) {
			return nil, nil, timeout(ctx)
		}
		<-j.done
	case <-r.done:
		if j.state.CompareAndSwap(queued, cancelled) {
			return nil, nil, errStopped
		}
		<-j.done
	}
	if j.err != nil {
		return nil, nil, j.err
	}
	return &j.out, j.resp, nil
}

func timeout(ctx context.Context) error {
	return errcode.Wrap(errcode.RequestTimeout, context.Cause(ctx), "the request timed out before the recorder took it; nothing was written")
}

// Close stops taking jobs, finishes those queued, seals the open segment
// with reason shutdown when sealOnShutdown is set, and ends the
// goroutine. It returns the shutdown seal, if one was made.
func (r *Recorder) Close(sealOnShutdown bool) (*evidence.Seal, error) {
	var seal *evidence.Seal
	var err error
	r.closeOnce.Do(func() {
		close(r.stop)
		last := &Job{Kind: SealSegment, Reason: evidence.SealShutdown, final: true, done: make(chan struct{})}
		if !sealOnShutdown {
			last.Kind = 0 // only a marker: the goroutine ends after it
		}
		r.jobs <- last
		<-r.done
		if last.err != nil && !errors.Is(last.err, errcode.SegmentNoneOpen) {
			err = last.err
		}
		seal = last.out.Seal
		r.app.Close()
	})
	return seal, err
}

func (r *Recorder) run() {
	defer close(r.done)
	busy := false // the last group held more than one job
	var linger *time.Timer
	for {
		j := <-r.jobs
		group := []*Job{j}
		n := j.envelope
		var wait <-chan time.Time
		if busy && r.cfg.Linger > 0 {
			if linger == nil {
				linger = time.NewTimer(r.cfg.Linger)
			} else {
				linger.Reset(r.cfg.Linger)
			}
			wait = linger.C
		}
	fill:
		for n < r.cfg.MaxGroup && !group[len(group)-1].final {
			select {
			case k := <-r.jobs:
				group = append(group, k)
				n += k.envelope
				continue
			default:
			}
			if wait == nil {
				break
			}
			select {
			case k := <-r.jobs:
				group = append(group, k)
				n += k.envelope
			case <-wait:
				wait = nil
				break fill
			}
		}
		if wait != nil && !linger.Stop() {
			<-linger.C
		}
		busy = len(group) > 1
		final := group[len(group)-1]
		var live []*Job
		for _, k := range group {
			if k.Kind != 0 && k.state.CompareAndSwap(queued, taken) {
				live = append(live, k)
			}
		}
		r.process(live)
		if final.final {
			if final.Kind == 0 {
				close(final.done)
			}
			return
		}
	}
}

// process applies jobs into one transaction and commits it; see the
// package doc for what happens when a job fails.
func (r *Recorder) process(jobs []*Job) {
	for len(jobs) > 0 {
		done, rest, failed := r.applyUntilDirty(jobs)
		if !failed {
			r.commit(done)
			return
		}
		r.process(done)
		jobs = rest
	}
}

// applyUntilDirty applies jobs in turn. A job the sealer rejects is
// answered and skipped. A job the store rejects rolls the transaction
// back: it is answered, and applyUntilDirty returns the jobs applied
// before it (to be applied again) and those after it.
func (r *Recorder) applyUntilDirty(jobs []*Job) (done, rest []*Job, failed bool) {
	for i, j := range jobs {
		before := r.cur.clone()
		err, dirty := r.apply(j)
		switch {
		case err == nil:
			done = append(done, j)
			continue
		case !dirty:
			r.cur = before
			r.finish(j, err)
			continue
		}
		r.app.Rollback()
		r.cur = r.committed.clone()
		r.finish(j, err)
		return done, jobs[i+1:], true
	}
	return done, nil, false
}

// apply seals j from the current chain state and writes its records into
// the open transaction. dirty reports an error after the transaction took
// some of them (the store rolled it back).
func (r *Recorder) apply(j *Job) (err error, dirty bool) {
	if r.broken != nil {
		return r.broken, false
	}
	j.out = Outcome{}
	j.resp = nil
	if j.at == (scalar.Timestamp{}) {
		if j.at, err = scalar.TimestampOf(r.clock().UTC()); err != nil {
			return err, false
		}
	}
	sl, err := sealing.New(sealing.Config{RecorderID: r.cfg.RecorderID, MaxEnvelopes: r.cfg.MaxEnvelopes,
		MaxDuration: r.cfg.MaxDuration, Signers: r.cfg.Signers, Start: r.cur.start()})
	if err != nil {
		return err, false
	}
	var recs []evidence.Record
	var origin []int // recs[k] came from j.Records[origin[k]]
	switch j.Kind {
	case Record:
		for i, rec := range j.Records {
			n := len(recs)
			switch v := rec.(type) {
			case *evidence.Attachment:
				err = sl.Attachment(v)
			case *evidence.Unsealed:
				recs, err = sl.Append(recs, v)
			default:
				err = errcode.New(errcode.InputUnexpectedRecord, "%s record where an unsealed envelope or attachment belongs", rec.Kind())
			}
			if err != nil {
				return r.atLine(j, i, err), false
			}
			for range len(recs) - n {
				origin = append(origin, i)
			}
		}
	case OpenSegment:
		if j.segID.IsZero() {
			if j.segID, err = scalar.NewRandomUUID7(); err != nil {
				return err, false
			}
		}
		recs, err = sl.OpenNow(recs, j.segID, j.at)
	case SealSegment:
		recs, err = sl.SealNow(recs, j.Reason, j.at)
	}
	if err != nil {
		return err, false
	}
	for k, rec := range recs {
		if err := r.app.Add(r.ctx, rec); err != nil {
			if k < len(origin) {
				err = r.atLine(j, origin[k], err)
			}
			return err, true
		}
	}
	r.advance(sl, recs)
	out := &j.out
	out.Records = recs
	for _, rec := range recs {
		switch v := rec.(type) {
		case *evidence.Envelope:
			out.Envelopes = append(out.Envelopes, v)
			out.Receipts = append(out.Receipts, store.ReceiptFor(v))
		case *evidence.Genesis:
			if j.Kind == OpenSegment {
				out.Genesis = v
			}
		case *evidence.Seal:
			if j.Kind == SealSegment {
				out.Seal = v
			}
		}
	}
	if j.Render != nil {
		if j.resp, err = j.Render(out); err != nil {
			r.app.Rollback()
			return err, true
		}
	}
	if idem := j.Idempotency; idem != nil {
		if j.resp == nil {
			r.app.Rollback()
			return errcode.New(errcode.Internal, "an idempotent job without a response"), true
		}
		row := &store.IdempotencyRow{Key: idem.Key, RequestHash: idem.RequestHash, Status: j.resp.Status,
			ContentType: j.resp.ContentType, Body: j.resp.Body, CreatedAt: j.at}
		if err := r.app.PutIdempotency(r.ctx, row); err != nil {
			return err, true
		}
	}
	return nil, false
}

func (r *Recorder) atLine(j *Job, i int, err error) error {
	if i < len(j.Lines) && j.Lines[i] > 0 {
		return errcode.AtLine(err, j.Lines[i])
	}
	return err
}

// advance moves the chain state past a job's records: the sealer's open
// segment, the claimed_at of its last record, or the link of the seal
// that closed the last segment.
func (r *Recorder) advance(sl *sealing.Sealer, recs []evidence.Record) {
	for _, rec := range recs {
		switch v := rec.(type) {
		case *evidence.Genesis:
			r.cur.lastClaimed = v.CreatedAt
		case *evidence.Envelope:
			r.cur.lastClaimed = v.ClaimedAt
		case *evidence.Seal:
			r.cur.pred = &evidence.Link{SegmentID: v.SegmentID, ChainHead: v.HeadChainHash}
		}
	}
	r.cur.genesis, r.cur.ch = sl.OpenSegment()
}

// commit makes the transaction durable and answers its jobs.
func (r *Recorder) commit(jobs []*Job) {
	if len(jobs) == 0 {
		return
	}
	now := r.clock()
	idem := false
	envelopes := 0
	for _, j := range jobs {
		idem = idem || j.Idempotency != nil
		envelopes += len(j.out.Envelopes)
	}
	if idem && now.Sub(r.lastPrune) >= time.Second && r.cfg.IdempotencyMax > 0 {
		before, err := scalar.TimestampOf(now.Add(-r.cfg.IdempotencyTTL).UTC())
		if err == nil {
			_, err = r.app.PruneIdempotency(r.ctx, before, r.cfg.IdempotencyMax)
		}
		if err != nil {
			r.fail(jobs, err)
			return
		}
		r.lastPrune = now
	}
	start := time.Now()
	rs, err := r.app.Commit(r.ctx)
	if err != nil {
		r.fail(jobs, err)
		return
	}
	if len(rs) != envelopes {
		r.broken = errcode.New(errcode.Internal, "the store acknowledged %d envelopes of %d", len(rs), envelopes)
	} else if err := r.consistent(); err != nil {
		r.broken = err
	}
	r.committed = r.cur.clone()
	r.healthy.Store(true)
	if o := r.cfg.Observer; o != nil {
		o.Committed(len(jobs), envelopes, time.Since(start))
		for _, j := range jobs {
			for _, rec := range j.out.Records {
				if s, ok := rec.(*evidence.Seal); ok {
					o.Sealed(s.Reason)
				}
			}
		}
	}
	for _, j := range jobs {
		r.finish(j, nil)
	}
}

// fail answers every job of a transaction that did not commit.
func (r *Recorder) fail(jobs []*Job, err error) {
	r.app.Rollback()
	r.cur = r.committed.clone()
	r.healthy.Store(false)
	if o := r.cfg.Observer; o != nil {
		o.Failed(err)
	}
	for _, j := range jobs {
		r.finish(j, err)
	}
}

func (r *Recorder) finish(j *Job, err error) {
	j.err = err
	if err != nil {
		j.out = Outcome{}
		j.resp = nil
	}
	close(j.done)
}
