package bundle

import (
	"slices"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/jsonobj"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
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

// onlySegments reports whether the only criterion is Segments.
func (s *Selector) onlySegments() bool {
	return len(s.TraceIDs) == 0 && len(s.SessionIDs) == 0 && len(s.EventTypes) == 0 && s.Since == nil && s.Until == nil
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
	if err := scalar.CheckRange(s.Since, s.Until); err != nil {
		return err
	}
	s.Segments = sortUnique(s.Segments, scalar.UUID.Compare)
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
	_, ok := slices.BinarySearchFunc(s.Segments, id, scalar.UUID.Compare)
	return ok
}

// Discloses reports whether a bundle built with the selector discloses e
// in full: when the selector matches it, and always when it is a key
// lifecycle envelope (SPEC §11.1), so that a verifier can follow the
// signing lineage through every included segment. The manifest's selector
// stays what was asked: the lifecycle envelopes are disclosed besides it.
// The selector must be normalised.
func (s *Selector) Discloses(e *evidence.Envelope) bool {
	return s.Match(e) || signing.IsLifecycle(e.EventType.String())
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

// selectorFields is the style of selector errors: bundle.malformed, with an
// unknown key reported at the selector itself.
var selectorFields = &jsonobj.Style{Code: errcode.BundleMalformed, Document: true}

// parseSelector decodes a manifest's selector; the caller checks that the
// whole manifest re-encodes to its input, which settles key order, sorting
// and duplicates.
func parseSelector(manifest *jsonobj.Object) (Selector, error) {
	o, err := selectorFields.ObjectAt(manifest.KeyPath("selector"), manifest.Get("selector"))
	if err != nil {
		return Selector{}, err
	}
	return decodeSelector(&o)
}

// requestFields is the style of a request's selector: the codes of record
// fields (input.unknown_field, input.field_invalid, …), paths from
// "selector".
var requestFields = &jsonobj.Style{}

// DecodeSelector decodes a selector in the JSON form the manifest records
// (in any key order and spacing), as a request gives it: {"all":true}, or
// any of "segments", "trace_ids", "session_ids", "event_types" (arrays),
// "since", "until". raw is checked as strict JSON first (SPEC §3). Errors
// name "selector.KEY" with the codes of record fields; the result is
// normalised, and a selector that selects nothing is input.field_invalid.
func DecodeSelector(raw []byte) (Selector, error) {
	c, err := canonical.Transform(raw)
	if err != nil {
		return Selector{}, errcode.InField(err, "selector")
	}
	o, err := requestFields.ObjectAt("selector", jsonobj.Value{Raw: string(c)})
	if err != nil {
		return Selector{}, err
	}
	return decodeSelector(&o)
}

// selectorKeys are the selector's keys, from its schema (schema.go).
var selectorKeys = SelectorSchema.Keys()

// decodeSelector decodes a selector object in its style.
func decodeSelector(o *jsonobj.Object) (Selector, error) {
	var s Selector
	var err error
	if err := o.Only(selectorKeys...); err != nil {
		return s, err
	}
	for _, f := range []struct {
		key string
		out *bool
	}{{"all", &s.All}, {"stream", &s.Stream}} {
		if !o.Has(f.key) {
			continue
		}
		if *f.out, err = o.Bool(f.key); err != nil {
			return s, err
		}
		if !*f.out {
			return s, o.Errorf(f.key, "must be true")
		}
	}
	if s.Segments, err = parseList(o, "segments", scalar.ParseUUID); err != nil {
		return s, err
	}
	if s.TraceIDs, err = parseList(o, "trace_ids", scalar.ParseLabel); err != nil {
		return s, err
	}
	if s.SessionIDs, err = parseList(o, "session_ids", scalar.ParseLabel); err != nil {
		return s, err
	}
	if s.EventTypes, err = parseList(o, "event_types", scalar.ParseToken); err != nil {
		return s, err
	}
	for _, t := range []struct {
		key string
		out **scalar.Timestamp
	}{{"since", &s.Since}, {"until", &s.Until}} {
		if !o.Has(t.key) {
			continue
		}
		ts, err := o.Timestamp(t.key)
		if err != nil {
			return s, err
		}
		*t.out = &ts
	}
	if err := s.Normalize(); err != nil {
		e, _ := errcode.As(err)
		return s, o.Errorf("", "%s", e.Msg)
	}
	return s, nil
}

// parseList decodes the optional list o.key with parse.
func parseList[T any](o *jsonobj.Object, key string, parse func(string) (T, error)) ([]T, error) {
	if !o.Has(key) {
		return nil, nil
	}
	list, err := o.Array(key)
	if err != nil {
		return nil, err
	}
	var out []T
	err = list.Each(func(i int, v jsonobj.Value) error {
		s, err := list.String(i, v)
		if err != nil {
			return err
		}
		t, err := parse(s)
		if err != nil {
			return list.Invalid(i, err)
		}
		out = append(out, t)
		return nil
	})
	return out, err
}
