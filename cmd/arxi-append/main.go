// Command arxi-append persists sealed streams in an append-only store and
// manages its segments (SPEC §8).
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// Appending allocates a little per line and keeps almost nothing, so
	// the default GOGC collects every few megabytes: a tenth of the run.
	// A larger target trades a few tens of megabytes for that time.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
