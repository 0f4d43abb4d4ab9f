// Command arxi-query reads envelopes back from a store: filtered, paged
// with an opaque cursor, as NDJSON, JSON or a sealed stream (SPEC §8).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
