package canonical_test

import (
	"fmt"

	"arxi.dev/arxi/pkg/canonical"
)

func ExampleTransform() {
	out, err := canonical.Transform([]byte(`{ "b": [1.50, 1e2], "a": "caf\u00e9", "c": -0 }`))
	fmt.Println(string(out), err)

	_, err = canonical.Transform([]byte(`{"id": 12345678901234567890}`))
	fmt.Println(err)
	// Output:
	// {"a":"café","b":[1.5,100],"c":0} <nil>
	// input.number_precision: integer 12345678901234567890 at offset 7 is outside ±2^53; send it as a string
}
