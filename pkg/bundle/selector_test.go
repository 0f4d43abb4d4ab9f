package bundle

import (
	"testing"
	"time"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

func ts(t *testing.T, s string) *scalar.Timestamp {
	t.Helper()
	v, err := scalar.ParseTimestamp(s)
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

func TestSelectorJSON(t *testing.T) {
	seg := scalar.UUID{0x01, 0x9a, 0, 0, 0, 0, 0x70, 0, 0x80}
	for _, tc := range []struct {
		sel  Selector
		want string
	}{
		{Selector{All: true}, `{"all":true}`},
		{Selector{All: true, TraceIDs: []scalar.Label{scalar.MustLabel("t")}}, `{"all":true}`},
		{Selector{Stream: true}, `{"stream":true}`},
		{Selector{TraceIDs: []scalar.Label{scalar.MustLabel("b"), scalar.MustLabel("a"), scalar.MustLabel("b")}}, `{"trace_ids":["a","b"]}`},
		{Selector{EventTypes: []scalar.Token{scalar.MustToken("tool.call")}, SessionIDs: []scalar.Label{scalar.MustLabel("s")},
			Segments: []scalar.UUID{seg}, Since: ts(t, "2026-01-01T00:00:00Z"), Until: ts(t, "2026-01-02T00:00:00.5Z")},
			`{"event_types":["tool.call"],"segments":["019a0000-0000-7000-8000-000000000000"],"session_ids":["s"],"since":"2026-01-01T00:00:00.000000000Z","until":"2026-01-02T00:00:00.500000000Z"}`},
	} {
		sel := tc.sel
		if err := sel.Normalize(); err != nil {
			t.Fatalf("Normalize(%+v): %v", tc.sel, err)
		}
		if got := sel.String(); got != tc.want {
			t.Errorf("selector = %s, want %s", got, tc.want)
		}
	}
}

func TestSelectorNormalizeRejects(t *testing.T) {
	for name, sel := range map[string]Selector{
		"nothing":          {},
		"stream and trace": {Stream: true, TraceIDs: []scalar.Label{scalar.MustLabel("t")}},
		"empty range":      {Since: ts(t, "2026-01-02T00:00:00Z"), Until: ts(t, "2026-01-02T00:00:00Z")},
	} {
		if err := sel.Normalize(); err == nil {
			t.Errorf("%s: Normalize succeeded, want an error", name)
		}
	}
}

func TestSelectorMatch(t *testing.T) {
	// Event i: type eventTypes[i%4], trace-((i/5)%4), session sess-(i%3)
	// (null when i%7 == 0), claimed at Base + i seconds.
	env := func(i int) *evidence.Envelope {
		return &evidence.Envelope{Content: bundletest.Event(i, bundletest.Options{}).Content, SegmentID: scalar.UUID{1}}
	}
	at := func(i int) *scalar.Timestamp {
		v, _ := scalar.TimestampOf(bundletest.Base.Add(time.Duration(i) * time.Second))
		return &v
	}
	for _, tc := range []struct {
		name string
		sel  Selector
		want []int // selected among events 0..13
	}{
		{"all", Selector{All: true}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}},
		{"segment", Selector{Segments: []scalar.UUID{{1}}}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}},
		{"other segment", Selector{Segments: []scalar.UUID{{2}}}, nil},
		{"trace", Selector{TraceIDs: []scalar.Label{scalar.MustLabel("trace-1")}}, []int{5, 6, 7, 8, 9}},
		{"session skips null", Selector{SessionIDs: []scalar.Label{scalar.MustLabel("sess-0")}}, []int{3, 6, 9, 12}},
		{"event type", Selector{EventTypes: []scalar.Token{scalar.MustToken("tool.call")}}, []int{1, 5, 9, 13}},
		{"since", Selector{Since: at(12)}, []int{12, 13}},
		{"until is exclusive", Selector{Until: at(2)}, []int{0, 1}},
		{"range", Selector{Since: at(3), Until: at(5)}, []int{3, 4}},
		{"union", Selector{TraceIDs: []scalar.Label{scalar.MustLabel("trace-2")}, Until: at(1)}, []int{0, 10, 11, 12, 13}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel := tc.sel
			if err := sel.Normalize(); err != nil {
				t.Fatal(err)
			}
			var got []int
			for i := range 14 {
				if sel.Match(env(i)) {
					got = append(got, i)
				}
			}
			if !equalInts(got, tc.want) {
				t.Errorf("%s selects %v, want %v", sel.String(), got, tc.want)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDecodeSelector: a request's selector decodes to the selector whose
// JSON it is (in any order and spacing); bad ones name the field.
func TestDecodeSelector(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		code     errcode.Code
		field    string
	}{
		{`{"all":true}`, `{"all":true}`, "", ""},
		{` {"trace_ids":["b","a","b"], "event_types":["tool.call"]} `, `{"event_types":["tool.call"],"trace_ids":["a","b"]}`, "", ""},
		{`{"since":"2026-01-01T00:00:00Z","until":"2026-01-02T00:00:00Z"}`, `{"since":"2026-01-01T00:00:00.000000000Z","until":"2026-01-02T00:00:00.000000000Z"}`, "", ""},
		{`{"all":false}`, "", errcode.InputFieldInvalid, "selector.all"},
		{`{"traces":["a"]}`, "", errcode.InputUnknownField, "selector.traces"},
		{`{"trace_ids":"a"}`, "", errcode.InputFieldInvalid, "selector.trace_ids"},
		{`{"segments":["not-a-uuid"]}`, "", errcode.InputFieldInvalid, "selector.segments[0]"},
		{`{"since":"2026-01-01T00:00:00+01:00"}`, "", errcode.InputNonUTCTime, "selector.since"},
		{`{}`, "", errcode.InputFieldInvalid, "selector"},
		{`{"all":true} {}`, "", errcode.InputMalformedJSON, "selector"},
	} {
		sel, err := DecodeSelector([]byte(tc.in))
		if tc.code == "" {
			if err != nil || sel.String() != tc.want {
				t.Errorf("DecodeSelector(%s) = %s, %v; want %s", tc.in, sel.String(), err, tc.want)
			}
			continue
		}
		e, ok := errcode.As(err)
		if !ok || e.Code != tc.code || e.Field != tc.field {
			t.Errorf("DecodeSelector(%s) error = %v, want %s in field %q", tc.in, err, tc.code, tc.field)
		}
	}
}
