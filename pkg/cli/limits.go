package cli

import (
	"fmt"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
)

// LimitFlags registers --max-line-bytes and --max-payload-bytes on the
// command. The returned function, called after Parse, gives the record
// limits: the defaults of SPEC §16, lowered by the flags but never raised.
func (c *Command) LimitFlags() func() (evidence.Limits, error) {
	line := c.Flags.Int("max-line-bytes", evidence.DefaultLimits.Line, "reject input lines longer than `N` bytes (may only be lowered)")
	payload := c.Flags.Int("max-payload-bytes", evidence.DefaultLimits.Payload, "reject payloads whose canonical form exceeds `N` bytes (may only be lowered)")
	return func() (evidence.Limits, error) {
		lim := evidence.DefaultLimits
		for _, l := range []struct {
			name     string
			val, def int
			dst      *int
		}{{"max-line-bytes", *line, lim.Line, &lim.Line}, {"max-payload-bytes", *payload, lim.Payload, &lim.Payload}} {
			if l.val < 1 || l.val > l.def {
				return lim, &errcode.Error{Code: errcode.ConfigInvalid, Field: l.name, Msg: fmt.Sprintf("must be between 1 and the default %d", l.def)}
			}
			*l.dst = l.val
		}
		return lim, nil
	}
}
