package ctxwait

import (
	"context"
	"errors"
	"testing"
)

func TestDo(t *testing.T) {
	v, err := Do(context.Background(), func() (int, error) { return 7, nil }, nil)
	if v != 7 || err != nil {
		t.Errorf("Do = %d, %v", v, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	block, released := make(chan struct{}), make(chan int)
	cancel()
	v, err = Do(ctx, func() (int, error) { <-block; return 9, nil }, func(v int) { released <- v })
	if !errors.Is(err, context.Canceled) || v != 0 {
		t.Errorf("Do after cancel = %d, %v", v, err)
	}
	close(block)
	if got := <-released; got != 9 {
		t.Errorf("released %d, want 9", got)
	}
}
