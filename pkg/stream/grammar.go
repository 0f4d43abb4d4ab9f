package stream

import (
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
)

// Grammar checks the record order of a sealed stream or a bundle body
// (SPEC §6, §9.1):
//
//	( genesis ( attachment* ( envelope | elided ) )* seal? )*
//
// where attachments come immediately before an envelope and only the last
// segment may be left open. It checks kinds only; segment ids, sequences and
// hashes are the business of evidence.Chain. Errors are
// input.unexpected_record.
type Grammar struct {
	state       grammarState
	attachments bool // attachments are waiting for their envelope
}

type grammarState uint8

const (
	stateStart  grammarState = iota // before the first genesis
	stateOpen                       // inside a segment
	stateSealed                     // after a seal
)

// Next checks that a record of kind k may come next.
func (g *Grammar) Next(k evidence.Kind) error {
	bad := func(msg string) error { return errcode.New(errcode.InputUnexpectedRecord, "%s", msg) }
	if g.attachments && k != evidence.KindAttachment && k != evidence.KindEnvelope {
		return bad(k.String() + " record follows an attachment; attachments must come immediately before the envelope that first references them")
	}
	switch k {
	case evidence.KindGenesis:
		if g.state == stateOpen {
			return bad("genesis record follows an unsealed segment; only the last segment may be open")
		}
		g.state = stateOpen
	case evidence.KindAttachment:
		if g.state != stateOpen {
			return bad("attachment record outside a segment")
		}
		g.attachments = true
	case evidence.KindEnvelope, evidence.KindElided:
		if g.state != stateOpen {
			return bad(k.String() + " record outside a segment; a segment starts with a genesis")
		}
		g.attachments = false
	case evidence.KindSeal:
		if g.state != stateOpen {
			return bad("seal record outside a segment")
		}
		g.state = stateSealed
	default:
		return bad(k.String() + " record in a sealed stream")
	}
	return nil
}

// End checks that the stream may end here.
func (g *Grammar) End() error {
	if g.attachments {
		return errcode.New(errcode.InputUnexpectedRecord, "stream ends after an attachment record without its envelope")
	}
	return nil
}

// Sealed reports whether the last segment seen is sealed.
func (g *Grammar) Sealed() bool { return g.state == stateSealed }
