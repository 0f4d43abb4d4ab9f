package bundle

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// Selector says which envelopes a bundle discloses (SPEC §9.2). Its
// criteria are a union: an envelope is selected when it matches any of
// them. A segment that holds a selected envelope is exported whole, its
// other envelopes elided.
//
// All selects everything; Stream is a whole sealed stream bundled with no
// selector, which also selects everything but records where it came from.
// Since and Until bound claimed_at half-open, [Since, Until), and together
// count as one criterion.
type Selector struct {
	All        bool
	Stream     bool
	Segments   []scalar.UUID
	TraceIDs   []scalar.Label
	SessionIDs []scalar.Label
	EventTypes []scalar.Token
	Since      *scalar.Timestamp
	Until      *scalar.Timestamp
}

// IsZero reports whether the selector selects nothing at all.
func (s *Selector) IsZero() bool { return !s.All && !s.Stream && !s.hasCriteria() }

// hasCriteria reports whether any criterion besides All and Stream is set.
func (s *Selector) hasCriteria() bool {
	return len(s.Segments) > 0 || len(s.TraceIDs) > 0 || len(s.SessionIDs) > 0 ||
		len(s.EventTypes) > 0 || s.Since != nil || s.Until != nil
}

// Normalize sorts and deduplicates the lists and reduces a selector that
// includes All to All alone. It fails when Since is not before Until, when
// Stream is combined with a criterion, or when nothing is selected.
func (s *Selector) Normalize() error {
	if s.IsZero() {
		return errcode.New(errcode.UsageInvalid, "the selector selects nothing")
	}
	if s.All {
		*s = Selector{All: true}
		return nil
	}
	if s.Stream {
		if s.hasCriteria() {
			return errcode.New(errcode.UsageInvalid, "a stream selector takes no other criterion")
		}
		return nil
	}
	if s.Since != nil && s.Until != nil && s.Since.Compare(*s.Until) >= 0 {
		return errcode.New(errcode.UsageInvalid, "since %s is not before until %s", s.Since, s.Until)
	}
	s.Segments = sortUnique(s.Segments, func(a, b scalar.UUID) int { return bytes.Compare(a[:], b[:]) })
	s.TraceIDs = sortUnique(s.TraceIDs, func(a, b scalar.Label) int { return strings.Compare(a.String(), b.String()) })
	s.SessionIDs = sortUnique(s.SessionIDs, func(a, b scalar.Label) int { return strings.Compare(a.String(), b.String()) })
	s.EventTypes = sortUnique(s.EventTypes, func(a, b scalar.Token) int { return strings.Compare(a.String(), b.String()) })
	return nil
}

func sortUnique[T comparable](v []T, cmp func(a, b T) int) []T {
	if len(v) == 0 {
		return nil
	}
	v = slices.Clone(v)
	slices.SortFunc(v, cmp)
	return slices.Compact(v)
}

// Everything reports whether the selector discloses every envelope.
func (s *Selector) Everything() bool { return s.All || s.Stream }

// NamesSegment reports whether id is one of the selected segments.
func (s *Selector) NamesSegment(id scalar.UUID) bool {
	_, ok := slices.BinarySearchFunc(s.Segments, id, func(a, b scalar.UUID) int { return bytes.Compare(a[:], b[:]) })
	return ok
}

// Match reports whether e is selected. The selector must be normalised.
func (s *Selector) Match(e *evidence.Envelope) bool {
	if s.Everything() || s.NamesSegment(e.SegmentID) {
		return true
	}
	c := &e.Content
	if !c.TraceID.IsZero() && hasLabel(s.TraceIDs, c.TraceID) {
		return true
	}
	if !c.SessionID.IsZero() && hasLabel(s.SessionIDs, c.SessionID) {
		return true
	}
	if len(s.EventTypes) > 0 {
		if _, ok := slices.BinarySearchFunc(s.EventTypes, c.EventType.String(), func(t scalar.Token, v string) int { return strings.Compare(t.String(), v) }); ok {
			return true
		}
	}
	if s.Since != nil || s.Until != nil {
		return (s.Since == nil || c.ClaimedAt.Compare(*s.Since) >= 0) && (s.Until == nil || c.ClaimedAt.Compare(*s.Until) < 0)
	}
	return false
}

func hasLabel(list []scalar.Label, l scalar.Label) bool {
	_, ok := slices.BinarySearchFunc(list, l.String(), func(a scalar.Label, v string) int { return strings.Compare(a.String(), v) })
	return ok
}

// AppendJCS appends the selector's canonical JSON: {"all":true},
// {"stream":true}, or an object with only the criteria used.
func (s *Selector) AppendJCS(dst []byte) []byte {
	switch {
	case s.All:
		return append(dst, `{"all":true}`...)
	case s.Stream:
		return append(dst, `{"stream":true}`...)
	}
	dst = append(dst, '{')
	n := 0
	key := func(k string) {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, `":`...)
	}
	strs := func(k string, v []string) {
		if len(v) == 0 {
			return
		}
		key(k)
		dst = append(dst, '[')
		for i, x := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = canonical.AppendString(dst, x)
		}
		dst = append(dst, ']')
	}
	// Keys in JCS order.
	strs("event_types", mapStrings(s.EventTypes, scalar.Token.String))
	strs("segments", mapStrings(s.Segments, scalar.UUID.String))
	strs("session_ids", mapStrings(s.SessionIDs, scalar.Label.String))
	if s.Since != nil {
		key("since")
		dst = append(dst, '"')
		dst = s.Since.Append(dst)
		dst = append(dst, '"')
	}
	strs("trace_ids", mapStrings(s.TraceIDs, scalar.Label.String))
	if s.Until != nil {
		key("until")
		dst = append(dst, '"')
		dst = s.Until.Append(dst)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func mapStrings[T any](v []T, f func(T) string) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = f(x)
	}
	return out
}

// String is the selector's JSON, for messages.
func (s *Selector) String() string { return string(s.AppendJCS(nil)) }

type rawSelector struct {
	All        *bool    `json:"all"`
	Stream     *bool    `json:"stream"`
	Segments   []string `json:"segments"`
	TraceIDs   []string `json:"trace_ids"`
	SessionIDs []string `json:"session_ids"`
	EventTypes []string `json:"event_types"`
	Since      *string  `json:"since"`
	Until      *string  `json:"until"`
}

// parseSelector decodes a manifest's selector; the caller checks that the
// whole manifest re-encodes to its input, which settles key order, sorting
// and duplicates.
func parseSelector(raw json.RawMessage) (Selector, error) {
	var s Selector
	var r rawSelector
	if err := strictUnmarshal(raw, &r); err != nil {
		return s, errcode.InField(err, "selector")
	}
	bad := func(field, msg string) error {
		if field != "" {
			field = "." + field
		}
		return &errcode.Error{Code: errcode.BundleMalformed, Field: "selector" + field, Msg: msg}
	}
	if r.All != nil {
		if !*r.All {
			return s, bad("all", "must be true")
		}
		s.All = true
	}
	if r.Stream != nil {
		if !*r.Stream {
			return s, bad("stream", "must be true")
		}
		s.Stream = true
	}
	var err error
	if s.Segments, err = parseList(r.Segments, "selector.segments", scalar.ParseUUID); err != nil {
		return s, err
	}
	if s.TraceIDs, err = parseList(r.TraceIDs, "selector.trace_ids", scalar.ParseLabel); err != nil {
		return s, err
	}
	if s.SessionIDs, err = parseList(r.SessionIDs, "selector.session_ids", scalar.ParseLabel); err != nil {
		return s, err
	}
	if s.EventTypes, err = parseList(r.EventTypes, "selector.event_types", scalar.ParseToken); err != nil {
		return s, err
	}
	for _, t := range []struct {
		in  *string
		out **scalar.Timestamp
		f   string
	}{{r.Since, &s.Since, "since"}, {r.Until, &s.Until, "until"}} {
		if t.in == nil {
			continue
		}
		ts, err := scalar.ParseTimestamp(*t.in)
		if err != nil {
			return s, asMalformed(errcode.InField(err, "selector."+t.f))
		}
		*t.out = &ts
	}
	if err := s.Normalize(); err != nil {
		e, _ := errcode.As(err)
		return s, bad("", e.Msg)
	}
	return s, nil
}

func parseList[T any](in []string, field string, parse func(string) (T, error)) ([]T, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]T, len(in))
	for i, v := range in {
		t, err := parse(v)
		if err != nil {
			return nil, asMalformed(errcode.InField(err, field+"["+itoa(i)+"]"))
		}
		out[i] = t
	}
	return out, nil
}
