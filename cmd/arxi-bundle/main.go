// Command arxi-bundle exports evidence as a self-contained bundle
// (SPEC §9) and summarises bundles (arxi-bundle inspect).
package main

import "arxi.dev/arxi/pkg/cli"

func main() {
	cli.Main(run)
}
