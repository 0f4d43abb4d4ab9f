// Command arxi-openclaw maps a capture of OpenClaw agent runs — gateway
// event frames, bare agent payloads or a session transcript — to unsealed
// Arxi envelopes on stdout (OPENCLAW.md), after checking that no event is
// missing, repeated or out of order.
package main

import "arxi.dev/arxi/pkg/cli"

func main() {
	cli.Main(run)
}
