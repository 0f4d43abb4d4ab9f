package storetest

import (
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
)

// testCheck checks Snapshot.Check (arxi-append doctor): a healthy store
// passes, counted whole; a damaged row anywhere, beyond any verify depth,
// is store.corrupt naming it.
func testCheck(t *testing.T, h Harness) {
	in := Seal(t, sealing.Config{MaxEnvelopes: 9}, Events(0, 24), false)
	envs := Envelopes(t, in)
	var blob scalar.Digest
	for _, r := range Records(t, in) {
		if a, ok := r.(*evidence.Attachment); ok {
			blob = a.Hash
		}
	}
	check := func(t *testing.T, b store.Backend) (store.CheckStats, error) {
		s := open(t, b, store.NoVerify)
		sn, err := s.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer sn.Close()
		n := 0
		st, err := sn.Check(ctx, store.CheckOptions{Progress: func(k int) { n += k }})
		if err == nil && uint64(n) != st.Envelopes {
			t.Errorf("progress counted %d of %d envelopes", n, st.Envelopes)
		}
		return st, err
	}
	t.Run("healthy", func(t *testing.T) {
		b := h.New(t)
		mustAppend(t, open(t, b, 0), in)
		st, err := check(t, b)
		if err != nil {
			t.Fatal(err)
		}
		if want := (store.CheckStats{Segments: 3, Sealed: 2, Envelopes: 24, Attachments: 2}); st != want {
			t.Errorf("Check = %+v, want %+v", st, want)
		}
		b.Close()
	})
	flipped := strings.Replace(envs[4].Payload, `{"i":`, `{"i":7`, 1)
	for _, tc := range []struct {
		name string
		c    Corruption
		row  string
	}{
		{"sealed segment payload", Corruption{"envelopes", uint64(5), "payload", []byte(flipped)}, "envelopes row 5"},
		{"index column", Corruption{"envelopes", uint64(11), "event_type", "tool.call"}, "envelopes row 11"},
		{"attachment data", Corruption{"attachments", blob, "data", []byte("blob X\n")}, "attachments row"},
		{"sealed segment head", Corruption{"segments", int64(1), "head", make([]byte, 32)}, "segments row 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := h.New(t)
			mustAppend(t, open(t, b, 0), in)
			h.Corrupt(t, b, tc.c)
			b = h.Reopen(t, b)
			defer b.Close()
			_, err := check(t, b)
			wantCode(t, "Check", err, errcode.StoreCorrupt)
			if err != nil && !strings.Contains(err.Error(), tc.row) {
				t.Errorf("Check: %v, want it to name %s", err, tc.row)
			}
		})
	}
}
