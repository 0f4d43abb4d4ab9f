//go:build race

package main

import "time"

// Under the race detector every child process takes about a second to
// start, so the kill test does fewer, still random, kills.
const (
	maxKills   = 5
	minKills   = 3
	killBudget = 6 * time.Second
)
