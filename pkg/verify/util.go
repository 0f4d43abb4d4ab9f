package verify

import (
	"slices"
	"strconv"
)

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
func quote(s string) string { return strconv.Quote(s) }

var warningOrder = map[string]int{WarnSignatureSkipped: 0, WarnUntrustedSignature: 1, WarnOmittedParent: 2, WarnUnsealedSegment: 3, WarnPhasesSkipped: 4, WarnBreakGlassRotation: 5}

// sortWarnings orders warnings by code (in the order of SPEC §10), each
// code's in input order.
func sortWarnings(ws []Warning) {
	slices.SortStableFunc(ws, func(a, b Warning) int { return warningOrder[a.Code] - warningOrder[b.Code] })
}
