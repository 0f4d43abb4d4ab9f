// Package ctxwait runs a call that may block for good (opening a FIFO
// without a writer, reading a terminal) so that its caller returns when a
// context ends, whatever the call does. The call keeps running in its own
// goroutine; the process is expected to exit soon after.
package ctxwait

import "context"

// Do runs f and returns its results, or ctx.Err() as soon as ctx ends
// first. When ctx wins and f later succeeds, release (if not nil) gets
// what f returned, to close it.
func Do[T any](ctx context.Context, f func() (T, error), release func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		if release != nil {
			go func() {
				if r := <-ch; r.err == nil {
					release(r.v)
				}
			}()
		}
		var zero T
		return zero, ctx.Err()
	}
}
