// Command arxi-dg maps a Decision Gate runpack, or an MCP tool-call
// transcript, to unsealed Arxi envelopes on stdout (SPEC §14, DG.md), after
// checking the runpack's integrity.
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
