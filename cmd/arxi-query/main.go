// Command arxi-query reads envelopes back from a store: filtered, paged
// with an opaque cursor, as NDJSON, JSON or a sealed stream (SPEC §8).
package main

import "arxi.dev/arxi/pkg/cli"

func main() {
	cli.Main(run)
}
