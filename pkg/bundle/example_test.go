package bundle_test

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/scalar"
)

// Build the bundle of one trace from a sealed stream: the segments holding
// its envelopes are exported whole, the other envelopes elided.
func ExampleBuild() {
	sealed := bundletest.Stream(bundletest.Options{Envelopes: 12, PerSegment: 4})

	src, err := bundle.Spool(context.Background(), bytes.NewReader(sealed), bundle.SpoolConfig{Dir: os.TempDir()})
	if err != nil {
		panic(err) // not a valid sealed stream: the error names the line
	}
	defer src.Close()
	sel := bundle.Selector{TraceIDs: []scalar.Label{scalar.MustLabel("trace-1")}}
	if err := sel.Normalize(); err != nil {
		panic(err)
	}
	var out bytes.Buffer
	m, err := bundle.Build(context.Background(), src, sel, &out, bundle.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println("bundle", m.BundleID, "selector", m.Selector.String())
	for _, s := range m.Segments {
		fmt.Printf("segment %s: %d disclosed, %d elided, sealed %v\n", s.SegmentID, s.Disclosed, s.Elided, s.Sealed)
	}
	fmt.Println("omitted parents:", len(m.OmittedParents))
	// Output:
	// bundle 01a202b2-d4a0-73f1-9c0c-036d7a819981 selector {"trace_ids":["trace-1"]}
	// segment 01a202b2-d4a0-7306-a60c-60c14b522fec: 3 disclosed, 1 elided, sealed true
	// segment 01a202b2-e440-742b-a70a-e05c14e2778a: 2 disclosed, 2 elided, sealed true
	// omitted parents: 1
}
