//go:build race

package main

// Under the race detector each start of the sidecar is slow: fewer kills.
const kills = 3
