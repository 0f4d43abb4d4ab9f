// Command arxi-sidecar is the recorder as a local HTTP/JSON service
// (SIDECAR.md); see run.go.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// main runs the sidecar with a context that SIGTERM and SIGINT end. Unlike
// the filters, which exit 130 or 143 on a signal, the daemon treats them
// as the order to shut down cleanly and exits 0 once it has (SIDECAR.md §3).
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
