package verify_test

import (
	"context"
	"fmt"
	"strings"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/verify"
)

// Verify a sealed stream against a trust root, then the same stream with
// one payload changed.
func ExampleBundle() {
	key := bundletest.Key(1)
	root, err := signing.ParseTrustRoot(bundletest.TrustRoot("any_trusted_key", key))
	if err != nil {
		panic(err)
	}
	sealed := string(bundletest.Stream(bundletest.Options{Envelopes: 3, Keys: []*signing.Key{key}}))
	cfg := verify.Config{TrustRoot: root}

	v, err := verify.Bundle(context.Background(), strings.NewReader(sealed), cfg)
	if err != nil {
		panic(err) // not a bundle or a stream, over a limit, or unreadable
	}
	fmt.Println(v.Status(), v.Summary.Envelopes, "envelopes")

	tampered := strings.Replace(sealed, `"i":1,`, `"i":7,`, 1)
	v, _ = verify.Bundle(context.Background(), strings.NewReader(tampered), cfg)
	phase, f := v.First()
	fmt.Println(v.Status(), phase, f.Code, f.Message)
	// Output:
	// valid 3 envelopes
	// invalid content chain.hash_mismatch content_hash of sequence 2 does not match its content
}
