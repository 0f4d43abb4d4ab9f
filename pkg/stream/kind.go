package stream

import (
	"bytes"

	"arxi.dev/arxi/pkg/errcode"
	"github.com/tidwall/gjson"
)

// sqliteMagic starts every SQLite database file, an Arxi store among them.
const sqliteMagic = "SQLite format 3\x00"

// WrongKind tells, from the first line of an input that a reader in mode
// cannot take, whether the input is another kind of Arxi file: unsealed
// events given to a sealed-stream reader, a sealed stream given to
// arxi-seal, a bundle, receipts, a verdict, query output, a store. It
// returns the input.wrong_kind error naming the tool that reads it, or nil
// when the line is none of these. Readers call it on their first line, so
// every tool says the same thing; a caller that reads the first line
// itself (arxi-verify, which also takes bundles) calls it too.
func WrongKind(mode Mode, line []byte) error {
	if e := wrongKind(mode, nil, line); e != nil {
		return e
	}
	return nil
}

func wrongKind(mode Mode, head, line []byte) *errcode.Error {
	wrong := func(msg, hint string) *errcode.Error {
		return &errcode.Error{Code: errcode.InputWrongKind, Line: 1, Msg: msg, Hint: hint}
	}
	if bytes.HasPrefix(head, []byte(sqliteMagic)) || bytes.HasPrefix(line, []byte(sqliteMagic)) {
		return wrong("the input is an SQLite database (an Arxi store?), not a stream",
			"an Arxi store: export it with arxi-bundle --store FILE, or read it with arxi-query --store FILE")
	}
	if !gjson.ValidBytes(line) {
		return nil
	}
	obj := gjson.ParseBytes(line)
	if !obj.IsObject() {
		return nil
	}
	want := "a sealed stream"
	if mode == Unsealed {
		want = "unsealed events"
	}
	rec := obj.Get("record")
	switch {
	case !rec.Exists() && obj.Get("event_type").Exists(), rec.Str == "unsealed":
		if mode == Sealed {
			return wrong("the input holds unsealed events, not a sealed stream", "unsealed events: pipe them through arxi-seal")
		}
		return nil
	case rec.Type != gjson.String:
		return nil
	}
	switch rec.Str {
	case "manifest":
		return wrong("the input is a bundle (its first line is a manifest), not "+want,
			"a bundle: verify it with arxi-verify, or summarise it with arxi-bundle inspect")
	case "receipt":
		return wrong("the input holds receipts written by arxi-append, not evidence",
			"receipts acknowledge what a store holds: export the evidence with arxi-bundle --store and verify that")
	case "verdict":
		return wrong("the input is a verdict written by arxi-verify, not evidence", "read a verdict with jq -r .status")
	case "page":
		return wrong("the input is a page of arxi-query results, not "+want,
			"arxi-query --format stream writes a sealed stream")
	case "segment":
		return wrong("the input is a segment listing of arxi-append segment, not "+want, "")
	case "genesis", "seal", "elided":
		if mode == Unsealed {
			return wrong("the input is a sealed stream (its first line is a "+rec.Str+" record), not unsealed events",
				"it is sealed already: append it with arxi-append, or verify it with arxi-verify")
		}
	case "envelope":
		if mode == Unsealed {
			return wrong("the input holds sealed envelopes, not unsealed events",
				"they are sealed already: arxi-seal reads events without hashes")
		}
		return wrong("the input starts with an envelope, not a genesis: envelopes without their segment (arxi-query output?)",
			"a sealed stream starts with a genesis: arxi-query --format stream writes whole segments")
	}
	return nil
}
