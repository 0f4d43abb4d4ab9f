// Package adapter holds what Arxi's adapters (pkg/dg, pkg/openclaw) share
// about checking their input before they map it: the Mode that says what
// a failed check does. What they share about what an envelope may carry
// is pkg/redact.
package adapter

import "arxi.dev/arxi/pkg/errcode"

// Mode selects what a failed check of an adapter's input does.
type Mode uint8

const (
	// Strict rejects the input on any failed check: nothing is emitted,
	// and the adapter returns an error listing every failure.
	Strict Mode = iota
	// Anomaly records the failures in an anomaly envelope, emitted first,
	// then maps what it can.
	Anomaly
)

// ParseMode parses the flag value "strict" or "anomaly"; what names the
// setting in the error ("integrity mode", "sequence policy").
func ParseMode(s, what string) (Mode, error) {
	switch s {
	case "strict":
		return Strict, nil
	case "anomaly":
		return Anomaly, nil
	}
	return Strict, errcode.New(errcode.ConfigInvalid, "%s %q: want strict or anomaly", what, s)
}

// String returns the mode's flag value.
func (m Mode) String() string {
	if m == Anomaly {
		return "anomaly"
	}
	return "strict"
}
