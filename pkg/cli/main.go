package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// RunFunc is a binary's testable entry point.
type RunFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

// Main runs run over the process's arguments and standard streams, with a
// context cancelled by SIGINT or SIGTERM, and exits with its status.
func Main(run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
