package main

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/backend"
	"arxi.dev/arxi/pkg/store/memory"
	"arxi.dev/arxi/pkg/store/storetest"
)

// lineageStream is a store's whole life as one sealed stream: key a
// enrolled, events signed by a, a rotation to b continuing their open
// segment, events signed by b, a break-glass rotation to c, events signed
// by c. It is built in a memory store, which checks every rule on the way.
func lineageStream(t *testing.T, perPart int) []byte {
	t.Helper()
	a, b, c := storetest.Key(1), storetest.Key(2), storetest.Key(3)
	s, err := store.Open(ctx, memory.New(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	add := func(in []byte) { storetest.Add(t, s, in) }
	at := storetest.At
	events := func(from, to int, k *signing.Key) {
		add(storetest.Continue(t, s, sealing.Config{MaxEnvelopes: 300, Signers: []sealing.Signer{k}}, storetest.Events(from, to), false))
	}
	n := perPart
	add(storetest.Rotate(t, s, storetest.LifecycleOf(signing.Enrolled, 1, nil, a), at(0), a))
	events(1, 1+n, a)
	add(storetest.Rotate(t, s, storetest.LifecycleOf(signing.Rotated, 2, a, b), at(1+n), a, b))
	events(2+n, 2+2*n, b)
	add(storetest.Rotate(t, s, storetest.LifecycleOf(signing.BreakGlass, 3, b, c), at(2+2*n), c))
	events(3+2*n, 3+3*n, c)
	return storetest.StreamOf(t, s, store.Filter{})
}

// TestKeyLifecycle: arxi-append takes a store's whole lineage; segment
// list and status show each segment's signing key and epoch; forged
// lifecycle envelopes are refused with exit 1, the store unchanged.
func TestKeyLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arxi.db")
	full := lineageStream(t, 3)
	if code, _, stderr := runAppend(t, full, "--store", path); code != 0 {
		t.Fatalf("append: exit %d, %s", code, stderr)
	}
	code, out, stderr := runAppend(t, nil, "segment", "list", "--store", path)
	if code != 0 {
		t.Fatalf("segment list: exit %d, %s", code, stderr)
	}
	a, b, c := storetest.Key(1).KeyID().String(), storetest.Key(2).KeyID().String(), storetest.Key(3).KeyID().String()
	rows := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"EPOCH\tKEY", "1\t" + a, "1\t" + a, "2\t" + b, "3\t" + c}
	if len(rows) != len(want) {
		t.Fatalf("segment list:\n%s", out)
	}
	for i, w := range want {
		if !strings.HasSuffix(rows[i], "\t"+w) && !strings.HasSuffix(rows[i], w) {
			t.Errorf("segment list row %d = %q, want it to end with %q", i, rows[i], w)
		}
	}
	code, out, _ = runAppend(t, nil, "segment", "status", "--store", path, "--json")
	if code != 0 || !strings.Contains(out, `"signing_epoch":3,"signing_key_id":"`+c+`"`) {
		t.Errorf("segment status --json: exit %d, %s", code, out)
	}
	code, out, _ = runAppend(t, nil, "segment", "status", "--store", path)
	if code != 0 || !strings.Contains(out, "signing key") || !strings.Contains(out, c+" (epoch 3)") {
		t.Errorf("segment status: exit %d, %s", code, out)
	}

	before := dumpStore(t, path)
	r, err := backend.OpenReader(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	at := storetest.At(100)
	kb, kc, kx := storetest.Key(2), storetest.Key(3), storetest.Key(9)
	for _, tc := range []struct {
		name string
		l    *signing.Lifecycle
		keys []*signing.Key
	}{
		{"skipped epoch", storetest.LifecycleOf(signing.Rotated, 5, kc, kx), []*signing.Key{kc, kx}},
		{"repeated epoch", storetest.LifecycleOf(signing.Rotated, 3, kc, kx), []*signing.Key{kc, kx}},
		{"old key not the current one", storetest.LifecycleOf(signing.Rotated, 4, kb, kx), []*signing.Key{kb, kx}},
		{"break-glass signed by the old key only", storetest.LifecycleOf(signing.BreakGlass, 4, kc, kx), []*signing.Key{kc}},
		{"rotation to the same key", storetest.LifecycleOf(signing.Rotated, 4, kc, kc), []*signing.Key{kc}},
	} {
		forged := storetest.Forge(t, r, tc.l, at, tc.keys...)
		code, _, stderr := runAppend(t, forged, "--store", path)
		if code != 1 || !strings.Contains(stderr, "key.rotation_invalid") {
			t.Errorf("%s: exit %d, %s; want exit 1, key.rotation_invalid", tc.name, code, stderr)
		}
		if !bytes.Equal(dumpStore(t, path), before) {
			t.Errorf("%s: the store changed", tc.name)
		}
	}
	// An envelope not signed by the current key: key.not_current, exit 1.
	other := storetest.Continue(t, r, sealing.Config{Signers: []sealing.Signer{kb}}, storetest.Events(200, 201), false)
	if code, _, stderr := runAppend(t, other, "--store", path); code != 1 || !strings.Contains(stderr, "key.not_current") {
		t.Errorf("signed by a retired key: exit %d, %s", code, stderr)
	}
	if !bytes.Equal(dumpStore(t, path), before) {
		t.Errorf("signed by a retired key: the store changed")
	}
}

// TestKillKeyLifecycle kills arxi-append with SIGKILL at random moments
// while it appends a store's lineage (as TestKill does with plain events):
// after every kill the store opens and verifies, lineage included, and
// appending the rest of the stream — for a rotation whose envelope is
// stored but not its seal, the genesis and the key_rotation seal, what
// arxi-seal rotate writes when run again — finishes the rotation.
func TestKillKeyLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs arxi-append many times")
	}
	const batch = 1 // a commit between the lifecycle envelope and its seal
	full := lineageStream(t, 60)
	position := map[string]int{}
	for i, e := range storetest.Envelopes(t, full) {
		r := store.Receipt{SegmentID: e.SegmentID, Sequence: e.Sequence, EnvelopeID: e.EnvelopeID, ChainHash: e.ChainHash}
		position[string(r.AppendJCS(nil))+"\n"] = i + 1
	}
	began := time.Now()
	rs, code, stderr, work := timedChild(t, full, nil, 0, false, "--store", filepath.Join(t.TempDir(), "c.db"), "--batch", "1")
	whole := time.Since(began)
	if code != 0 || len(rs) != len(position) {
		t.Fatal(stderr)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	// Two rounds, and more while no run was killed: a round ends when a
	// run completes, so on a machine whose speed changed since the
	// calibration run a round may end before any kill lands.
	kills := 0
	hard := time.Now().Add(3 * killBudget)
	for round := 0; round < 2 || (kills == 0 && time.Now().Before(hard)); round++ {
		kills += killRound(t, rng, full, position, filepath.Join(t.TempDir(), "arxi.db"), batch, &whole, &work, time.Now().Add(killBudget))
	}
	t.Logf("%d kills", kills)
	if kills == 0 {
		t.Errorf("no run was killed")
	}
}
