// Command arxi-dg maps a Decision Gate runpack, or an MCP tool-call
// transcript, to unsealed Arxi envelopes on stdout (SPEC §14, DG.md), after
// checking the runpack's integrity.
package main

import "arxi.dev/arxi/pkg/cli"

func main() {
	cli.Main(run)
}
