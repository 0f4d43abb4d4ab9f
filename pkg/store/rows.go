package store

import (
	"bytes"
	"context"
	"runtime"
	"strings"

	"arxi.dev/arxi/pkg/evidence"
)

// Reading rows back costs more than fetching them: every value is checked,
// the content hash recomputed, the line written. checkedEnvelopes spreads
// that work over GOMAXPROCS goroutines and hands the envelopes back in
// position order, so a walk over a segment (its chain stays sequential)
// runs at the speed of the backend's reads.

// rowBatch is a run of rows read in order, and what checking them gave.
type rowBatch struct {
	rows  []EnvelopeRow
	envs  []checkedRow
	ready chan struct{}
}

type checkedRow struct {
	env  *evidence.Envelope
	line []byte
	err  error
}

const rowBatchSize = 128

// cloneRow copies a row out of the backend's memory, which is only valid
// during its callback.
func cloneRow(r *EnvelopeRow) EnvelopeRow {
	c := *r
	for _, s := range []*string{&c.EventType, &c.ActorID, &c.EnvironmentID, &c.AdapterID, &c.TraceID, &c.SessionID} {
		*s = strings.Clone(*s)
	}
	c.Payload, c.Attachments, c.Signatures = bytes.Clone(r.Payload), bytes.Clone(r.Attachments), bytes.Clone(r.Signatures)
	return c
}

// checkedEnvelopes reads the envelope rows from..to of segment seg with v
// and calls fn with each checked envelope and its line, in order, until
// fn or a check fails. The rows are fetched, and fn called, on this
// goroutine, so fn may use v; the checks run on GOMAXPROCS others, a few
// batches ahead.
func checkedEnvelopes(ctx context.Context, v View, from, to uint64, seg segmentInfo, lim evidence.Limits, fn func(r *checkedRow, pos uint64) error) error {
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *rowBatch, 2*workers)
	defer close(work)
	for range workers {
		go func() {
			c := newChecker(lim)
			for b := range work {
				b.envs = make([]checkedRow, len(b.rows))
				for i := range b.rows {
					e, line, err := c.envelope(&b.rows[i], seg)
					b.envs[i] = checkedRow{env: e, line: bytes.Clone(line), err: err}
					if err != nil {
						break
					}
				}
				close(b.ready)
			}
		}()
	}
	var ahead []*rowBatch // fetched, in order
	next := from
	fetch := func() error {
		b := &rowBatch{ready: make(chan struct{})}
		end := min(next+rowBatchSize-1, to)
		err := v.Envelopes(ctx, Query{From: next, To: end}, func(r *EnvelopeRow) error {
			b.rows = append(b.rows, cloneRow(r))
			return nil
		})
		if err != nil {
			return err
		}
		next = end + 1
		ahead = append(ahead, b)
		work <- b
		return nil
	}
	for next <= to || len(ahead) > 0 {
		for next <= to && len(ahead) < 2*workers {
			if err := fetch(); err != nil {
				return err
			}
		}
		b := ahead[0]
		ahead = ahead[1:]
		<-b.ready
		for i := range b.rows {
			r := &b.envs[i]
			if r.err != nil {
				return r.err
			}
			if err := fn(r, b.rows[i].Position); err != nil {
				return err
			}
		}
		if len(b.rows) == 0 {
			return nil // rows missing: the caller's counts tell
		}
	}
	return nil
}
