// Package fuzzinput makes a fuzz target's input a small edit of a
// fixture built once outside the fuzz function, so that the fuzzer runs
// thousands of executions per second over inputs with the fixtures' deep
// structure (valid hashes, chains, signatures) instead of rediscovering it.
//
// Go's fuzzer minimizes every input that finds new coverage before it
// goes on, and minimizing a []byte costs up to the square of its length
// in executions: a fuzz target whose []byte is a whole multi-kilobyte
// stream spends its time minimizing (FuzzBundle ran 5 executions in 60
// seconds). Here the fuzzed []byte is only the patch, a few bytes; the
// fixture it patches is chosen and placed by integers, which are never
// minimized.
package fuzzinput

// Raw is the base of a patch that stands alone: the input is the patch
// itself, arbitrary bytes.
const Raw = 255

// Edit returns the input the fuzzer's values describe: fixture base of
// bases with cut bytes removed at offset at (modulo the fixture's length
// plus one) and patch inserted there; for a base that names no fixture
// (Raw), the patch alone. The fixtures are never modified.
func Edit(bases [][]byte, base uint8, at uint16, cut uint8, patch []byte) []byte {
	if int(base) >= len(bases) {
		return patch
	}
	b := bases[base]
	i := int(at) % (len(b) + 1)
	j := min(len(b), i+int(cut))
	out := make([]byte, 0, len(b)-(j-i)+len(patch))
	out = append(out, b[:i]...)
	out = append(out, patch...)
	return append(out, b[j:]...)
}
