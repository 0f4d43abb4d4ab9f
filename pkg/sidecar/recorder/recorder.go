// Package recorder is the sidecar's writer: one goroutine that owns the
// store's chain and commits the work of concurrent requests in groups
// (SIDECAR.md §3, "durable group commit").
//
// Requests hand it Jobs: envelopes (and attachment records) to record, a
// segment to open or to seal. The goroutine runs a pipeline over one
// transaction at a time. It takes the jobs waiting, seals each in turn
// with a sealing.Sealer started from a copy of the chain state the job
// before it left, renders each job's response, and writes the job's
// records through the store's Appender into the open transaction. It
// commits the group early (store.Appender.CommitEarly: committed, not yet
// fsynced) and makes it durable (the fsync) on a goroutine of its own;
// while that runs, it takes, seals and writes the jobs arriving into the
// next transaction, on the chain state the group leaves. Only when the
// fsync has returned is each job of the group answered, and only then is
// the next group committed: at most one group is ever committed and not
// answered. So a response is never sent for evidence that is not
// durable, many requests share one fsync, and the next group is written
// when it returns.
//
// A job fails alone, answered with its group, since its error was found
// on a chain state that is not durable yet. A rejection by the sealer (an
// attachment reference that resolves to nothing, say) leaves the chain
// state as the job found it, and the group goes on. A rejection by the
// store (an envelope id that is already stored) discards the whole open
// transaction, as every store error does: the job is marked rejected,
// and the other jobs written into it are sealed again from the committed
// chain state and written again without it. A commit that fails fails
// every job of its group (nothing of theirs was written), and the jobs
// after it are sealed from the committed chain state. A group whose fsync
// fails is committed but may not survive a crash, and nothing after it
// would (the write-ahead log is replayed in order): its jobs and those
// written after it fail, and so does every job until a restart, which
// continues from the chain the store holds. Sealing is deterministic (a
// job's clock time and segment id are fixed the first time), so sealing
// a job again on the same chain state gives the same records; the
// Appender is touched only by the writer goroutine.
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

	recs     []evidence.Record // prepared: the sealed records
	origin   []int             // recs[k] came from Records[origin[k]]
	fault    error             // prepared: the job's own error, if any
	rejected bool              // the store refused the job: its fault is final

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

	// committed is the chain state of the store's last commit, cur that
	// of the last job prepared. A job's sealer starts from a copy of cur,
	// so neither is changed in place: each may be copied by value.
	committed, cur chain
	lastPrune      time.Time
	broken         error // an invariant failed: every job fails with it
	busy           bool  // the last group held more than one job
	linger         *time.Timer
	hasher         evidence.Hasher // the sealers' scratch memory, one sealer at a time

	closeOnce sync.Once
	healthy   atomic.Bool
}

// chain is the state a sealer starts from: an open segment, or the link
// of the next one.
type chain struct {
	genesis     *evidence.Genesis
	ch          *evidence.Chain // sealers extend a clone, never this
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
	app.SetEarly(true)
	r := &Recorder{cfg: cfg, app: app, jobs: make(chan *Job, cfg.Queue), stop: make(chan struct{}), done: make(chan struct{}),
		ctx: context.WithoutCancel(ctx), clock: cfg.Clock}
	if h.Genesis != nil {
		r.cur = chain{genesis: h.Genesis, ch: h.Chain, lastClaimed: h.LastClaimedAt}
	} else {
		r.cur = chain{pred: h.Last}
	}
	if err := r.consistent(r.cur); err != nil {
		app.Close()
		return nil, err
	}
	r.committed = r.cur
	r.healthy.Store(true)
	go r.run()
	return r, nil
}

// consistent checks that the chain state c agrees with the appender's
// committed state.
func (r *Recorder) consistent(c chain) error {
	o := r.app.OpenSegment()
	switch {
	case o == nil && c.genesis == nil:
		return nil
	case o != nil && c.genesis != nil && o.Genesis.SegmentID == c.genesis.SegmentID && o.Count == c.ch.Count && o.Head == c.ch.Head:
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

// run is the writer goroutine: a pipeline over one transaction at a
// time. It commits a group early (store.Appender.CommitEarly: committed,
// not yet fsynced) and makes it durable on a goroutine of its own; while
// that fsync runs, it takes the jobs arriving, prepares them in memory
// on the chain state the group leaves, and writes them into the next
// transaction. Once the fsync returns it answers the group and commits
// the next at once: at most one group is ever committed and not answered.
func (r *Recorder) run() {
	defer close(r.done)
	var (
		fl *flight // the group committed and being made durable
		w  batch   // the jobs taken since, prepared and written into the open transaction
	)
	for {
		if fl != nil {
			res := r.during(fl, &w)
			r.settle(fl, res)
			fl = nil
			if r.broken != nil {
				// w was written on a chain that is not known to be
				// durable: nothing of it is committed.
				r.app.Rollback()
				r.cur = r.committed
				for _, j := range w.jobs {
					r.prepare(j)
				}
			}
			r.drain(&w)
		}
		if len(w.jobs) == 0 {
			if m := w.marker; m != nil {
				if m.Kind == 0 {
					close(m.done)
				}
				return
			}
			r.collect(&w)
		}
		if len(w.jobs) > 0 {
			r.busy = len(w.jobs) > 1
			fl = r.launch(w.jobs)
			w.jobs, w.envelopes = nil, 0
		}
	}
}

// batch is the jobs taken for the next transaction.
type batch struct {
	jobs      []*Job
	envelopes int
	marker    *Job // the final job, once taken: nothing is taken after it
}

// take takes j from the queue, unless its request withdrew it, and
// reports whether it is to be prepared.
func (b *batch) take(j *Job) bool {
	if j.final {
		b.marker = j
	}
	if j.Kind == 0 || !j.state.CompareAndSwap(queued, taken) {
		return false
	}
	b.jobs = append(b.jobs, j)
	b.envelopes += j.envelope
	return true
}

// open reports whether b takes more jobs.
func (r *Recorder) open(b *batch) bool { return b.marker == nil && b.envelopes < r.cfg.MaxGroup }

// admit takes j into b, prepares it on the current chain state and
// writes it into the open transaction.
func (r *Recorder) admit(b *batch, j *Job) {
	if !b.take(j) {
		return
	}
	r.prepare(j)
	if j.fault == nil && !r.write(b.jobs, j) {
		r.rewrite(b)
	}
}

// drain admits the jobs waiting, without waiting for more.
func (r *Recorder) drain(b *batch) {
	for r.open(b) {
		select {
		case j := <-r.jobs:
			r.admit(b, j)
		default:
			return
		}
	}
}

// collect waits for a job while nothing is in flight and takes the jobs
// waiting with it; while busy (the group before held more than one job)
// it waits up to Linger for more. It then prepares and writes them.
func (r *Recorder) collect(b *batch) {
	b.take(<-r.jobs)
	var wait <-chan time.Time
	if r.busy && r.cfg.Linger > 0 {
		if r.linger == nil {
			r.linger = time.NewTimer(r.cfg.Linger)
		} else {
			r.linger.Reset(r.cfg.Linger)
		}
		wait = r.linger.C
	}
	for r.open(b) {
		select {
		case j := <-r.jobs:
			b.take(j)
			continue
		default:
		}
		if wait == nil {
			break
		}
		select {
		case j := <-r.jobs:
			b.take(j)
		case <-wait:
			wait = nil
		}
	}
	if wait != nil && !r.linger.Stop() {
		<-r.linger.C
	}
	r.rewrite(b)
}

// during admits jobs while fl is made durable; it returns fl's result as
// soon as there is one.
func (r *Recorder) during(fl *flight, b *batch) commitResult {
	for r.open(b) {
		select {
		case j := <-r.jobs:
			r.admit(b, j)
		case res := <-fl.done:
			return res
		}
	}
	return <-fl.done
}

// prepare seals j from the current chain state, in memory, and renders
// its response. A job the sealer rejects keeps its error (its fault) and
// leaves the chain state as it was; one the store rejected stays
// rejected.
func (r *Recorder) prepare(j *Job) {
	if j.rejected {
		return
	}
	j.out, j.resp, j.recs, j.origin = Outcome{}, nil, j.recs[:0], j.origin[:0]
	j.fault = r.seal(j)
	if j.fault != nil {
		j.out, j.resp = Outcome{}, nil
	}
}

// seal is prepare's work: the sealer starts from a copy of the chain
// state, which becomes the state only when the whole job sealed.
func (r *Recorder) seal(j *Job) (err error) {
	if r.broken != nil {
		return r.broken
	}
	if j.at == (scalar.Timestamp{}) {
		if j.at, err = scalar.TimestampOf(r.clock().UTC()); err != nil {
			return err
		}
	}
	st := r.cur.clone()
	sl, err := sealing.New(sealing.Config{RecorderID: r.cfg.RecorderID, MaxEnvelopes: r.cfg.MaxEnvelopes,
		MaxDuration: r.cfg.MaxDuration, Signers: r.cfg.Signers, Start: st.start(), Hasher: &r.hasher})
	if err != nil {
		return err
	}
	recs := j.recs
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
				return r.atLine(j, i, err)
			}
			for range len(recs) - n {
				j.origin = append(j.origin, i)
			}
		}
	case OpenSegment:
		if j.segID.IsZero() {
			if j.segID, err = scalar.NewRandomUUID7(); err != nil {
				return err
			}
		}
		recs, err = sl.OpenNow(recs, j.segID, j.at)
	case SealSegment:
		recs, err = sl.SealNow(recs, j.Reason, j.at)
	}
	if err != nil {
		return err
	}
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
			return err
		}
	}
	if j.Idempotency != nil && j.resp == nil {
		return errcode.New(errcode.Internal, "an idempotent job without a response")
	}
	j.recs = recs
	r.advance(sl, recs)
	return nil
}

// launch commits the open transaction, which holds the records of the
// jobs without a fault, early, and starts making it durable; it returns
// the flight, or nil when nothing was committed (every job then has its
// answer: its fault, or the commit's error).
func (r *Recorder) launch(jobs []*Job) *flight {
	fl := &flight{jobs: jobs, done: make(chan commitResult, 1)}
	idem := false
	for _, j := range jobs {
		if j.fault == nil {
			fl.written++
			fl.envelopes += len(j.out.Envelopes)
			idem = idem || j.Idempotency != nil
		}
	}
	if fl.written == 0 {
		r.app.Rollback()
		r.answer(fl, nil)
		return nil
	}
	if now := r.clock(); idem && now.Sub(r.lastPrune) >= time.Second && r.cfg.IdempotencyMax > 0 {
		before, err := scalar.TimestampOf(now.Add(-r.cfg.IdempotencyTTL).UTC())
		if err == nil {
			_, err = r.app.PruneIdempotency(r.ctx, before, r.cfg.IdempotencyMax)
		}
		if err != nil {
			r.app.Rollback()
			return r.unlaunched(fl, err)
		}
		r.lastPrune = now
	}
	start := time.Now()
	rs, durable, err := r.app.CommitEarly(r.ctx)
	if err != nil {
		return r.unlaunched(fl, err)
	}
	if len(rs) != fl.envelopes {
		r.broken = errcode.New(errcode.Internal, "the store acknowledged %d envelopes of %d", len(rs), fl.envelopes)
	} else if err := r.consistent(r.cur); err != nil {
		r.broken = err
	}
	r.committed = r.cur
	if durable == nil {
		fl.done <- commitResult{took: time.Since(start)}
		return fl
	}
	go func() {
		err := durable()
		fl.done <- commitResult{err: err, took: time.Since(start)}
	}()
	return fl
}

// unlaunched handles the error of a transaction that did not commit:
// nothing of fl's group was written, and the chain is the committed one.
// A row the store held back to the commit (PostgreSQL's COPY) fails its
// own job alone: the others are written again and launched. Any other
// error fails the group.
func (r *Recorder) unlaunched(fl *flight, err error) *flight {
	if r.reject(fl.jobs, nil, 0, err) {
		r.rewrite(&batch{jobs: fl.jobs})
		return r.launch(fl.jobs)
	}
	r.cur = r.committed
	r.failed(fl, err)
	return nil
}

// write adds the records and idempotency record of j, the last of jobs,
// to the open transaction. It reports false when the store rejected a
// job of jobs (now marked rejected) and rolled the transaction back.
func (r *Recorder) write(jobs []*Job, j *Job) bool {
	k, err := r.add(j)
	if err == nil {
		return true
	}
	r.app.Rollback()
	r.reject(jobs, j, k, err)
	return false
}

// reject marks the job at fault for err rejected and reports whether
// there was one: the job of jobs whose envelope err names, when it is
// about a row the store held back (store.RowError, located at its
// envelope), which may be a job written before the one whose write
// returned it; else j (nil for none) and its record k (-1 for its
// idempotency record).
func (r *Recorder) reject(jobs []*Job, j *Job, k int, err error) bool {
	if o, at, found := owner(jobs, err); found {
		j, k = o, at
	}
	if j == nil {
		return false
	}
	if k >= 0 && k < len(j.origin) {
		err = r.atLine(j, j.origin[k], err)
	}
	j.fault, j.rejected = err, true
	j.out, j.resp = Outcome{}, nil
	return true
}

// rewrite prepares and writes the jobs of b again from the committed
// chain state, after the store rejected one of them and rolled the
// transaction back (deterministic: the jobs before it get the same
// records). Each pass that meets another rejection marks one more job
// rejected, so it ends.
func (r *Recorder) rewrite(b *batch) {
	for again := true; again; {
		again = false
		r.cur = r.committed
		for _, j := range b.jobs {
			r.prepare(j)
			if j.fault == nil && !r.write(b.jobs, j) {
				again = true
				break
			}
		}
	}
}

// add writes j's records as one unit, so that a batch's rows go in
// multi-row statements, and then its idempotency record; on error it
// returns the index of the record the error is about (-1 for the
// idempotency record).
func (r *Recorder) add(j *Job) (int, error) {
	if k, err := r.app.AddUnit(r.ctx, j.recs); err != nil {
		return k, err
	}
	if idem := j.Idempotency; idem != nil {
		row := &store.IdempotencyRow{Key: idem.Key, RequestHash: idem.RequestHash, Status: j.resp.Status,
			ContentType: j.resp.ContentType, Body: j.resp.Body, CreatedAt: j.at}
		if err := r.app.PutIdempotency(r.ctx, row); err != nil {
			return -1, err
		}
	}
	return 0, nil
}

// owner finds the job of jobs holding the envelope err names, and the
// index of its record, when err is about a row the store held back (a
// store.RowError, which the Appender locates at its envelope's segment
// and sequence).
func owner(jobs []*Job, err error) (*Job, int, bool) {
	var re *store.RowError
	e, located := errcode.As(err)
	if !errors.As(err, &re) || !located || e.Segment == "" {
		return nil, 0, false
	}
	for _, j := range jobs {
		if j.fault != nil {
			continue
		}
		for k, rec := range j.recs {
			if env, ok := rec.(*evidence.Envelope); ok && env.Sequence == e.Sequence && env.SegmentID.String() == e.Segment {
				return j, k, true
			}
		}
	}
	return nil, 0, false
}

// flight is a group committed early and being made durable.
type flight struct {
	jobs      []*Job // in chain order: those written, and those with a fault, answered with them
	written   int    // jobs without a fault
	envelopes int
	done      chan commitResult
}

type commitResult struct {
	err  error
	took time.Duration
}

// settle takes fl's result and answers its jobs. When the group could not
// be made durable, its records are committed but may not survive a crash,
// and neither would anything written after them (the write-ahead log is
// replayed in order, up to its first frame not on disk): the recorder
// fails every job from then on, and a restart continues from the chain
// the store holds.
func (r *Recorder) settle(fl *flight, res commitResult) {
	if res.err != nil {
		err := &errcode.Error{Code: errcode.StoreIO, Err: res.err,
			Msg: "the transaction was committed but could not be made durable; whether its records survive a restart is unknown"}
		r.broken = &errcode.Error{Code: errcode.StoreIO, Err: res.err,
			Msg: "a transaction could not be made durable: the sidecar records nothing more until it is restarted"}
		r.failed(fl, err)
		return
	}
	if r.broken == nil {
		r.healthy.Store(true)
	}
	if o := r.cfg.Observer; o != nil {
		o.Committed(fl.written, fl.envelopes, res.took)
		for _, j := range fl.jobs {
			if j.fault != nil {
				continue
			}
			for _, rec := range j.out.Records {
				if s, ok := rec.(*evidence.Seal); ok {
					o.Sealed(s.Reason)
				}
			}
		}
	}
	r.answer(fl, nil)
}

// failed answers every job of a group that did not commit, or was not
// made durable, with its error: those with a fault too, for their fault
// was found on a chain state that did not become durable.
func (r *Recorder) failed(fl *flight, err error) {
	r.healthy.Store(false)
	if o := r.cfg.Observer; o != nil {
		o.Failed(err)
	}
	r.answer(fl, err)
}

// answer answers fl's jobs: with err, or else each with its outcome or
// its fault.
func (r *Recorder) answer(fl *flight, err error) {
	for _, j := range fl.jobs {
		if err != nil {
			r.finish(j, err)
		} else {
			r.finish(j, j.fault)
		}
	}
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

func (r *Recorder) finish(j *Job, err error) {
	j.err = err
	if err != nil {
		j.out = Outcome{}
		j.resp = nil
	}
	close(j.done)
}
