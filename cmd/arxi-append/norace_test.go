//go:build !race

package main

import "time"

const (
	maxKills   = 30
	minKills   = 10
	killBudget = 15 * time.Second
)
