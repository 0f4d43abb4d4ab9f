package recorder

import (
	"errors"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/memory"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestStartKey: the recorder refuses to start on a store whose current
// signing key (SPEC §11.1) is not one of its signers, or when it has none;
// it starts with the current key.
func TestStartKey(t *testing.T) {
	a, b := storetest.Key(1), storetest.Key(2)
	s, err := store.Open(ctx, memory.New(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.Add(t, s, storetest.Rotate(t, s, storetest.LifecycleOf(signing.Enrolled, 1, nil, a), storetest.At(0), a))
	for _, tc := range []struct {
		name    string
		signers []sealing.Signer
		code    errcode.Code
	}{
		{"another key", []sealing.Signer{b}, errcode.KeyNotCurrent},
		{"no key", nil, errcode.KeyNotCurrent},
		{"the current key", []sealing.Signer{a}, ""},
	} {
		r, err := Start(ctx, Config{Store: s, RecorderID: storetest.Recorder, Signers: tc.signers})
		if tc.code == "" {
			if err != nil {
				t.Fatalf("%s: Start = %v", tc.name, err)
			}
			r.Close(false)
			continue
		}
		if !errors.Is(err, tc.code) {
			t.Errorf("%s: Start = %v, want %s", tc.name, err, tc.code)
		}
	}
}
