// Command arxi-append persists sealed streams in an append-only store and
// manages its segments (SPEC §8).
package main

import "arxi.dev/arxi/pkg/cli"

func main() {
	cli.Main(run)
}
