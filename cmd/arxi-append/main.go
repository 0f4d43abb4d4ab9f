// Command arxi-append persists sealed streams in an append-only store and
// manages its segments (SPEC §8).
package main

import (
	"os"
	"runtime/debug"

	"arxi.dev/arxi/pkg/cli"
)

func main() {
	// Appending allocates a little per line and keeps almost nothing, so
	// the default GOGC collects every few megabytes: a tenth of the run.
	// A larger target trades a few tens of megabytes for that time.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	cli.Main(run)
}
