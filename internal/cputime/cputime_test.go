package cputime

import (
	"os"
	"testing"
	"time"
)

// TestSelfAndOf: 50 ms of busy work shows as CPU time in this process,
// and read from /proc for its own pid (at least one 10 ms tick).
func TestSelfAndOf(t *testing.T) {
	s0, p0 := Self(), Of(os.Getpid())
	if s0 <= 0 || p0 < 0 {
		t.Fatalf("Self() = %v, Of(own pid) = %v at the start", s0, p0)
	}
	for giveUp := time.Now().Add(10 * time.Second); Self()-s0 < 50*time.Millisecond; {
		if time.Now().After(giveUp) {
			t.Fatalf("Self grew by only %v in 10 s of busy work", Self()-s0)
		}
	}
	if p := Of(os.Getpid()) - p0; p < 10*time.Millisecond {
		t.Errorf("Of(own pid) grew by %v over 50 ms of CPU", p)
	}
	if got := Of(-1); got != 0 {
		t.Errorf("Of(-1) = %v, want 0", got)
	}
}
