package main

import (
	"arxi.dev/arxi/internal/clitest"
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/backend"
	"arxi.dev/arxi/pkg/store/sqlite"
	"arxi.dev/arxi/pkg/store/storetest"
)

// childEnv makes the test binary run arxi-append itself, so tests can kill
// it and limit it like a real process.
const childEnv = "ARXI_TEST_APPEND_CHILD"

// childFSize, when set, is the child's RLIMIT_FSIZE in bytes: writes past
// it fail with EFBIG, as on a full disk.
const childFSize = "ARXI_TEST_APPEND_FSIZE"

func childMain() {
	clitest.LimitFileSize(childFSize)
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// childCmd is arxi-append in a subprocess, with env added to its
// environment.
func childCmd(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	return cmd
}

// child runs arxi-append in a subprocess on stdin. With kill > 0 it sends
// SIGKILL that long after the start, or, with afterFirst, that long after
// the first receipt. It returns the complete receipt lines written and the
// exit status (-1 when killed).
func child(t *testing.T, stdin []byte, env []string, kill time.Duration, afterFirst bool, args ...string) (receipts []string, code int, stderr string) {
	t.Helper()
	receipts, code, stderr, _ = timedChild(t, stdin, env, kill, afterFirst, args...)
	return receipts, code, stderr
}

// timedChild is child, also reporting how long the process ran after its
// first receipt.
func timedChild(t *testing.T, stdin []byte, env []string, kill time.Duration, afterFirst bool, args ...string) (receipts []string, code int, stderr string, work time.Duration) {
	t.Helper()
	var firstAt time.Time
	cmd := childCmd(env, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan struct{}) // closed at the first receipt, or at EOF
	read := make(chan []byte)
	go func() {
		var b []byte
		buf := make([]byte, 64<<10)
		seen := false
		for {
			n, err := out.Read(buf)
			b = append(b, buf[:n]...)
			if !seen && (bytes.IndexByte(b, '\n') >= 0 || err != nil) {
				seen = true
				firstAt = time.Now()
				close(first)
			}
			if err != nil {
				read <- b
				return
			}
		}
	}()
	if kill > 0 {
		go func() {
			if afterFirst {
				<-first
			}
			time.Sleep(kill)
			cmd.Process.Kill() // fails harmlessly once the process is gone
		}()
	}
	b := <-read
	err = cmd.Wait()
	work = time.Since(firstAt)
	code = cmd.ProcessState.ExitCode()
	if err != nil && code == 0 {
		t.Fatal(err)
	}
	// A killed process may leave half a line: the receipts of a batch
	// that is committed but not fully acknowledged.
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		receipts = strings.SplitAfter(string(b[:i+1]), "\n")
		receipts = receipts[:len(receipts)-1]
	}
	return receipts, code, errb.String(), work
}

// dumpStore opens the store at path (a file or a URL) as a writer does
// (lock, schema, full verification of the open segment's tail) and
// returns its content as a sealed stream.
func dumpStore(t *testing.T, path string) []byte {
	t.Helper()
	s, err := backend.OpenStore(ctx, backend.Config{Store: path}, store.Config{VerifyDepth: 1 << 20})
	// A PostgreSQL server frees a killed writer's lock once it notices
	// the connection is gone, a few milliseconds later.
	for deadline := time.Now().Add(10 * time.Second); errors.Is(err, errcode.StoreLocked) && backend.IsURL(path) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		s, err = backend.OpenStore(ctx, backend.Config{Store: path}, store.Config{VerifyDepth: 1 << 20})
	}
	if err != nil {
		t.Fatalf("reopen and verify: %v", err)
	}
	defer s.Close()
	sn, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var out bytes.Buffer
	if err := sn.WriteStream(ctx, &out, store.Filter{}); err != nil {
		t.Fatalf("read back: %v", err)
	}
	return out.Bytes()
}

// rest returns what is left to append of full once the store holds dump
// (a prefix of it): the remaining lines, announced by the open segment's
// genesis when the store ends inside a segment.
func rest(full, dump []byte) []byte {
	lines := storetest.Lines(full)
	done := storetest.Lines(dump)
	if len(done) == 0 {
		return full
	}
	tail := strings.Join(lines[len(done):], "")
	if strings.Contains(done[len(done)-1], `"record":"seal"`) {
		return []byte(tail)
	}
	for i := len(done) - 1; i >= 0; i-- {
		if strings.Contains(done[i], `"record":"genesis"`) {
			return []byte(done[i] + tail)
		}
	}
	panic("no genesis in a non-empty store")
}

// TestKill kills arxi-append with SIGKILL at random moments, many times.
// After each kill the store must open and verify, be a prefix of the
// stream, hold every receipted envelope and at most one batch more; the
// rest of the stream, appended afterwards, completes the chain.
func TestKill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs arxi-append many times")
	}
	const batch = 40
	full := storetest.Seal(t, sealing.Config{MaxEnvelopes: 300}, storetest.Events(0, 1500), true)
	var position = map[string]int{} // receipt line → 1-based envelope position
	for i, e := range storetest.Envelopes(t, full) {
		r := store.Receipt{SegmentID: e.SegmentID, Sequence: e.Sequence, EnvelopeID: e.EnvelopeID, ChainHash: e.ChainHash}
		position[string(r.AppendJCS(nil))+"\n"] = i + 1
	}
	// Calibrate: how long a whole run takes, and how long its appends take
	// from the first receipt on.
	began := time.Now()
	rs, code, stderr, work := timedChild(t, full, nil, 0, false, "--store", filepath.Join(t.TempDir(), "c.db"), "--batch", strconv.Itoa(batch))
	whole := time.Since(began)
	if code != 0 || len(rs) != len(position) {
		t.Fatal(stderr)
	}
	t.Logf("a whole run takes %v, %v of it after the first receipt", whole, work)

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	deadline := time.Now().Add(killBudget)
	hard := time.Now().Add(3 * killBudget) // to reach minKills on a slow machine
	kills := 0
	// Rounds of a fresh store each: kill until the stream is complete. The
	// kill window shrinks with what is left, so one round holds a few kills;
	// rounds go on until enough kills happened or the time budget is spent.
	for round := 0; ; round++ {
		d := deadline
		if kills < minKills {
			d = hard
		}
		if kills >= maxKills || !time.Now().Before(d) {
			break
		}
		kills += killRound(t, rng, full, position, filepath.Join(t.TempDir(), "arxi.db"), batch, &whole, &work, d)
	}
	t.Logf("%d kills", kills)
	if kills < minKills {
		t.Errorf("only %d runs were killed", kills)
	}
}

// killRound appends full to a fresh store at path, killing runs at random
// points until one completes, and checks the store after every run. It
// returns the number of kills. *whole and *work are the calibration run's
// times, from which the kill points are drawn; when the completing run
// outlived its kill, they halve for the next round.
func killRound(t *testing.T, rng *rand.Rand, full []byte, position map[string]int, path string, batch int, whole, work *time.Duration, deadline time.Time) int {
	total := len(position)
	args := []string{"--store", path, "--batch", strconv.Itoa(batch)}
	receipted, kills := 0, 0
	var dump []byte
	for run := 0; ; run++ {
		if run > 60 {
			t.Fatal("the stream never completes")
		}
		start := strings.Count(string(dump), `"record":"envelope"`)
		// One kill in four lands anywhere from the process start (start-up,
		// open, verification); the others land at a random point of the
		// appends still to do, counted from the first receipt.
		kill, afterFirst := time.Duration(0), false
		if time.Now().Before(deadline) {
			if rng.IntN(4) == 0 {
				kill = time.Duration(rng.Int64N(int64(*whole))) + time.Microsecond
			} else {
				left := float64(*work) * float64(total-start) / float64(total)
				kill, afterFirst = time.Duration(rng.Int64N(int64(left)+1))+time.Microsecond, true
			}
		}
		rs, code, stderr := child(t, rest(full, dump), nil, kill, afterFirst, args...)
		if testing.Verbose() {
			t.Logf("run %d: from envelope %d, kill after %v (after first receipt: %v): exit %d, %d receipts", run, start+1, kill, afterFirst, code, len(rs))
		}
		if code > 0 {
			t.Fatalf("run %d: exit %d: %s", run, code, stderr)
		}
		if code < 0 {
			kills++
		}
		for i, r := range rs {
			p, ok := position[r]
			if !ok || p != start+i+1 {
				t.Fatalf("run %d: receipt %d is %q, want that of envelope %d", run, i, r, start+i+1)
			}
			receipted = p
		}
		dump = dumpStore(t, path)
		if !bytes.HasPrefix(full, dump) {
			t.Fatalf("run %d: the store is not a prefix of the stream", run)
		}
		held := strings.Count(string(dump), `"record":"envelope"`)
		if held < receipted || held > max(receipted, start)+batch {
			t.Fatalf("run %d: store holds %d envelopes; receipted %d, started at %d, batch %d", run, held, receipted, start, batch)
		}
		if code == 0 {
			if kill > 0 {
				// The run outlived its kill: runs are faster now than
				// the calibration, so the next round's windows halve.
				*whole, *work = max(*whole/2, time.Millisecond), max(*work/2, time.Millisecond)
			}
			break
		}
	}
	if !bytes.Equal(dump, full) {
		t.Fatal("after the last run the store is not the whole stream")
	}
	storetest.CheckStream(t, dump)
	return kills
}

// TestFileSizeLimit makes every write past a size limit fail (EFBIG via
// RLIMIT_FSIZE, which needs no privileges): arxi-append fails with
// store.io, exit 4, keeps every receipted batch and nothing of the failed
// one, and the store opens again.
func TestFileSizeLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	full := storetest.Seal(t, sealing.Config{MaxEnvelopes: 500}, storetest.Events(0, 3000), true)
	path := filepath.Join(t.TempDir(), "arxi.db")
	rs, code, stderr := child(t, full, []string{childFSize + "=400000"}, 0, false, "--store", path, "--batch", "100")
	if code != errcode.ExitIO || !strings.Contains(stderr, "store.io") || !strings.Contains(stderr, "hint: the store is committed through input line") {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	if len(rs) == 0 || len(rs)%100 != 0 {
		t.Fatalf("%d receipts; want whole batches", len(rs))
	}
	dump := dumpStore(t, path)
	if !bytes.HasPrefix(full, dump) || strings.Count(string(dump), `"record":"envelope"`) != len(rs) {
		t.Fatalf("store after the failure holds %d envelopes, %d receipted", strings.Count(string(dump), `"record":"envelope"`), len(rs))
	}
	// Without the limit, the rest completes the stream.
	if _, code, stderr := child(t, rest(full, dump), nil, 0, false, "--store", path); code != 0 {
		t.Fatalf("rest: exit %d: %s", code, stderr)
	}
	if !bytes.Equal(dumpStore(t, path), full) {
		t.Error("store is not the whole stream")
	}
}

// TestReadersDuringAppend runs queries in parallel with an appending
// process: every snapshot is a prefix of the stream made of whole batches.
func TestReadersDuringAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	full := storetest.Seal(t, sealing.Config{MaxEnvelopes: 400}, storetest.Events(0, 1200), true)
	path := filepath.Join(t.TempDir(), "arxi.db")
	// Create the store first so readers have something to open.
	if code, _, stderr := runAppend(t, nil, "--store", path); code != 0 {
		t.Fatal(stderr)
	}
	finished := make(chan struct{})
	done := make(chan struct{})
	var reads []int
	go func() {
		defer close(done)
		db, err := sqlite.Open(ctx, sqlite.Config{Path: path, ReadOnly: true})
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		s, _ := store.Open(ctx, db, store.Config{VerifyDepth: store.NoVerify})
		for {
			select {
			case <-finished:
				return
			default:
			}
			sn, err := s.Snapshot(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			var out bytes.Buffer
			err = sn.WriteStream(ctx, &out, store.Filter{})
			sn.Close()
			if err != nil {
				t.Error(err)
				return
			}
			n := strings.Count(out.String(), `"record":"envelope"`)
			if !bytes.HasPrefix(full, out.Bytes()) || n%100 != 0 {
				t.Errorf("snapshot of %d envelopes is not a prefix of whole batches", n)
				return
			}
			reads = append(reads, n)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	_, code, stderr := child(t, full, nil, 0, false, "--store", path, "--batch", "100")
	close(finished)
	<-done
	if code != 0 {
		t.Fatalf("append: exit %d: %s", code, stderr)
	}
	for i := 1; i < len(reads); i++ {
		if reads[i] < reads[i-1] {
			t.Errorf("snapshots went backwards: %v", reads)
		}
	}
	t.Logf("snapshot sizes: %v", reads)
}
