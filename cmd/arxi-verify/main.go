// Command arxi-verify checks a bundle or a sealed stream offline and
// prints a deterministic verdict (SPEC §10).
package main

import "arxi.dev/arxi/pkg/cli"

func main() {
	cli.Main(run)
}
