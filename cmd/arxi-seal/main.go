// Command arxi-seal turns unsealed events into a sealed, hash-chained
// stream (SPEC §7), and makes signing keys (arxi-seal keygen, SPEC §11).
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
