package stream

import (
	"io"
	"sync"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/zstdio"
)

// Parallel reads a stream as a Reader does, but decodes its lines on
// several goroutines and hands the records back in
// input order, so that a reader whose own work is sequential (a chain, a
// store) is not held up by decoding. One goroutine splits the input into
// chunks of lines, copying each line once into memory that is never
// reused; workers decode whole chunks and run Work on each record; Next
// returns the items in order. At most a few chunks per worker are in
// flight. The records and lines stay valid after Next returns.
type Parallel struct {
	order chan *chunk
	done  chan struct{}
	mem   budget
	cur   *chunk
	i     int
	err   error // the end: io.EOF or the error after the last item
}

// ParallelConfig configures a Parallel.
type ParallelConfig struct {
	// Unsealed reads unsealed envelopes and attachment records, in any
	// strict JSON formatting, as a Reader in Unsealed mode does; otherwise
	// the lines are those of a sealed stream (Sealed mode).
	Unsealed bool
	// Limits bound the lines and records; zero fields take the defaults.
	Limits evidence.Limits
	// Workers is the number of decoding goroutines; 0 means 1.
	Workers int
	// FirstLine hands line 1 over undecoded (checked as a canonical line
	// only), for inputs whose first line may be something else, such as a
	// bundle's manifest.
	FirstLine bool
	// Work, when set, is called on each decoded item by the worker that
	// decoded it, before the item is handed over: for per-record checks
	// that parallelise with decoding, such as recomputing content hashes.
	Work func(*Item)
}

// Item is one line of the input.
type Item struct {
	Line   int64
	Raw    []byte          // the line, when it is canonical JSON; nil otherwise
	Record evidence.Record // nil for an undecoded first line and on error
	// Err is the line's error (naming it): the input is not read past it.
	Err error
	// Aux is what Work left for the reader.
	Aux any
}

type chunk struct {
	items []Item
	lines [][]byte // raw input lines, stable
	head  []byte   // the input's first bytes, in the first chunk
	size  int      // their bytes
	err   error    // after the items: io.EOF, or the error reading the next line
	ready chan struct{}
}

const (
	chunkLines = 128
	chunkBytes = 256 << 10
	// maxInFlight bounds the bytes of the lines read but not yet passed by
	// Next (a chunk of one larger line is let through alone).
	maxInFlight = 4 << 20
)

// budget counts the bytes in flight.
type budget struct {
	mu   sync.Mutex
	cond sync.Cond
	n    int
	done bool
}

// take waits until n more bytes fit, or nothing is in flight, or the
// reader is closed (false).
func (b *budget) take(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.n > 0 && b.n+n > maxInFlight && !b.done {
		b.cond.Wait()
	}
	b.n += n
	return !b.done
}

func (b *budget) give(n int) {
	b.mu.Lock()
	b.n -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (b *budget) close() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (cfg ParallelConfig) mode() Mode {
	if cfg.Unsealed {
		return Unsealed
	}
	return Sealed
}

// NewParallel starts reading r. Close it when done.
func NewParallel(r io.Reader, cfg ParallelConfig) *Parallel {
	lim := cfg.Limits.WithDefaults()
	workers := max(cfg.Workers, 1)
	p := &Parallel{order: make(chan *chunk, 4*workers), done: make(chan struct{})}
	p.mem.cond.L = &p.mem.mu
	work := make(chan *chunk, 4*workers)
	go func() {
		defer close(work)
		defer close(p.order)
		in := zstdio.Auto(r)
		defer in.Close()
		p.split(NewLineReader(in, lim.Line), cfg.mode(), work)
	}()
	for range workers {
		go func() {
			dec := evidence.NewDecoder(lim)
			for c := range work {
				decodeChunk(dec, c, cfg)
			}
		}()
	}
	return p
}

// split reads lines into chunks and queues them for the workers and, in
// order, for Next.
func (p *Parallel) split(lines *LineReader, mode Mode, work chan<- *chunk) {
	var arena []byte // lines are appended, never overwritten
	for {
		c := &chunk{ready: make(chan struct{})}
		first := lines.Line()
		for len(c.lines) < chunkLines && c.size < chunkBytes {
			line, err := lines.Next()
			if err != nil {
				if lines.Line() <= 1 {
					err = onFirst(mode, err, lines.Head(), nil)
				}
				c.err = err
				break
			}
			if cap(arena)-len(arena) < len(line) {
				arena = make([]byte, 0, max(chunkBytes, len(line)))
			}
			start := len(arena)
			arena = append(arena, line...)
			c.lines = append(c.lines, arena[start:len(arena):len(arena)])
			c.size += len(line)
			if lines.Buffered() == 0 {
				// The next line is not here yet (a person typing, a
				// producer that paused): pass on what came so far.
				break
			}
		}
		if !p.mem.take(c.size) {
			return
		}
		if first == 0 {
			c.head = lines.Head()
		}
		c.items = make([]Item, len(c.lines))
		for i := range c.items {
			c.items[i].Line = first + int64(i) + 1
		}
		select {
		case p.order <- c:
		case <-p.done:
			return
		}
		select {
		case work <- c:
		case <-p.done:
			return
		}
		if c.err != nil {
			return
		}
	}
}

func decodeChunk(dec *evidence.Decoder, c *chunk, cfg ParallelConfig) {
	defer close(c.ready)
	mode := cfg.mode()
	var canon []byte // the canonical forms of unsealed lines, kept
	if mode == Unsealed {
		// Canonical forms are about as long as their input (a number can
		// grow: "1e15"; an arena that fills up is replaced, never reused).
		canon = make([]byte, 0, c.size+c.size/8+64*len(c.lines))
	}
	for i, line := range c.lines {
		it := &c.items[i]
		if it.Line == 1 && cfg.FirstLine {
			if err := dec.Canonical(line); err != nil {
				it.Err = onFirst(Sealed, errcode.AtLine(err, 1), c.head, line)
			} else {
				it.Raw = line
			}
			continue
		}
		var rec evidence.Record
		var err error
		if mode == Sealed {
			rec, err = dec.Sealed(line)
			if dec.WasCanonical() {
				it.Raw = line
			}
		} else {
			start := len(canon)
			if rec, canon, err = dec.Unsealed(canon, line); err == nil {
				it.Raw = canon[start:len(canon):len(canon)]
			}
		}
		switch {
		case err != nil:
			err = errcode.AtLine(err, it.Line)
			if it.Line == 1 && !(mode == Sealed && dec.Decoded()) {
				err = onFirst(mode, err, c.head, line)
			}
		case !mode.allows(rec.Kind()):
			err = errcode.AtLine(mode.unexpected(rec.Kind()), it.Line)
			if it.Line == 1 {
				err = onFirst(mode, err, nil, line)
			}
		}
		if err != nil {
			it.Err = err
			c.items = c.items[:i+1] // nothing after the first bad line
			return
		}
		it.Record = rec
		if cfg.Work != nil {
			cfg.Work(it)
		}
	}
}

// Next returns the next item, or io.EOF after the last. A line that does
// not decode ends the input: Next returns its item (whose Raw a caller may
// inspect) with its error, and that error from then on. Errors reading the
// input name the line, like the errors of Reader.Next.
func (p *Parallel) Next() (*Item, error) {
	for p.cur == nil || p.i >= len(p.cur.items) {
		if p.cur != nil && p.cur.err != nil {
			p.err, p.cur = p.cur.err, nil
		}
		if p.err != nil {
			return nil, p.err
		}
		if p.cur != nil {
			p.mem.give(p.cur.size)
		}
		c, ok := <-p.order
		if !ok {
			p.err = io.EOF
			return nil, p.err
		}
		<-c.ready
		p.cur, p.i = c, 0
	}
	it := &p.cur.items[p.i]
	p.i++
	if it.Err != nil {
		p.err, p.cur = it.Err, nil
		return it, it.Err
	}
	return it, nil
}

// Close stops reading, without waiting for a pending Read of the input:
// the goroutines end once it returns.
func (p *Parallel) Close() {
	select {
	case <-p.done:
	default:
		close(p.done)
		p.mem.close()
	}
}

// hashed marks an item whose envelope's content hash recomputed.
var hashed any = new(bool)

// hashers are the scratch memory of HashContent.
var hashers = sync.Pool{New: func() any { return new(evidence.Hasher) }}

// HashContent is a ParallelConfig.Work that recomputes an envelope's
// content hash on the goroutine that decoded it; ContentHashed reports the
// result.
func HashContent(it *Item) {
	e, ok := it.Record.(*evidence.Envelope)
	if !ok {
		return
	}
	h := hashers.Get().(*evidence.Hasher)
	if h.Content(&e.Content) == e.ContentHash {
		it.Aux = hashed
	}
	hashers.Put(h)
}

// ContentHashed reports whether HashContent found that its envelope's
// content hash recomputes.
func ContentHashed(it *Item) bool { return it.Aux == hashed }
