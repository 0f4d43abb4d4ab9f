package dg_test

import (
	"fmt"

	"arxi.dev/arxi/pkg/dg"
	"arxi.dev/arxi/pkg/evidence"
	"github.com/tidwall/gjson"
)

// Read a runpack, check it, and write its envelopes as arxi-dg does: one
// canonical line per record, ready for arxi-seal.
func Example() {
	rp, err := dg.Read("../../testdata/dg/golden_time_after_pass")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("root hash:", rp.Manifest.RootHash.Hex())
	fmt.Println("verified:", rp.Verified())
	_, err = rp.Map(dg.Config{}, func(rec evidence.Record) error {
		if u, ok := rec.(*evidence.Unsealed); ok {
			fmt.Println(u.EventType, u.ClaimedAt, u.EnvelopeID)
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// root hash: fceca5534f343d4266f89d29a1519a6c0ed2935964ad5757a70ed58661dba228
	// verified: true
	// dg.runpack 1970-01-01T00:00:00.010000000Z 00000000-000a-76f4-9e6d-de3476f058b5
	// dg.trigger 1970-01-01T00:00:00.002000000Z 00000000-0002-781e-9583-322d4ef9ee9b
	// dg.gate_eval 1970-01-01T00:00:00.002000000Z 00000000-0002-7ec7-862c-29af1f19b890
	// dg.decision 1970-01-01T00:00:00.002000000Z 00000000-0002-7f13-814d-109f28b1ccd3
	// dg.tool_call 1970-01-01T00:00:00.002000000Z 00000000-0002-7806-bfe5-5030e225fbeb
	// dg.verifier_report 1970-01-01T00:00:00.010000000Z 00000000-000a-79a6-8e48-b2de722c6914
}

// Map an MCP tool-call transcript: each entry becomes an mcp.request and
// an mcp.response envelope, with tool arguments and results redacted.
func ExampleTranscript_Map() {
	t, err := dg.ReadTranscript("testdata/mcp_transcript.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = t.Map(dg.Config{}, func(rec evidence.Record) error {
		u := rec.(*evidence.Unsealed)
		fmt.Println(u.ClaimedAt, u.EventType, gjson.Get(u.Payload, "method"), gjson.Get(u.Payload, "redactions"))
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// 1970-01-01T00:00:00.001000000Z mcp.request tools/list []
	// 1970-01-01T00:00:00.001000000Z mcp.response tools/list []
	// 1970-01-01T00:00:00.002000000Z mcp.request tools/call ["$.params.arguments"]
	// 1970-01-01T00:00:00.002000000Z mcp.response tools/call ["$.response.result.content"]
	// 1970-01-01T00:00:00.003000000Z mcp.request tools/call ["$.params.arguments"]
	// 1970-01-01T00:00:00.003000000Z mcp.response tools/call ["$.response.error.data"]
}
