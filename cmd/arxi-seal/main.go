// Command arxi-seal turns unsealed events into a sealed, hash-chained
// stream (SPEC §7), and makes signing keys (arxi-seal keygen, SPEC §11).
package main

import "arxi.dev/arxi/pkg/cli"

func main() {
	cli.Main(run)
}
