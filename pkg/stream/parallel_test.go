package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/fuzzinput"
	"arxi.dev/arxi/pkg/evidence"
)

// readAll is what a Reader gives for an input: one entry per record or
// error, the last an error or io.EOF.
func readAll(t testing.TB, in []byte, mode Mode, lim evidence.Limits) []string {
	t.Helper()
	r := NewReader(bytes.NewReader(in), mode, lim)
	var got []string
	for {
		rec, err := r.Next()
		if err != nil {
			return append(got, "error: "+err.Error())
		}
		got = append(got, fmt.Sprintf("%d %s %s", r.Line(), rec.Kind(), r.Raw()))
	}
}

func readParallel(t testing.TB, in io.Reader, mode Mode, lim evidence.Limits, workers int) []string {
	t.Helper()
	p := NewParallel(in, ParallelConfig{Unsealed: mode == Unsealed, Limits: lim, Workers: workers})
	defer p.Close()
	var got []string
	for {
		it, err := p.Next()
		if err != nil {
			return append(got, "error: "+err.Error())
		}
		got = append(got, fmt.Sprintf("%d %s %s", it.Line, it.Record.Kind(), it.Raw))
	}
}

// inputs are streams good and bad, in both modes: the rejects of
// TestReaderRejects, other kinds of files, and a stream of many chunks.
func inputs(t testing.TB) []string {
	data := string(vector(t))
	lines := strings.SplitAfter(data, "\n")
	unsealed := `{"event_type":"a","actor_id":"a","environment_id":"e","adapter_id":"x","claimed_at":"2026-11-22T10:00:00Z","payload":1}` + "\n"
	return []string{
		data,
		strings.Repeat(data, 300), // many chunks (the grammar is not the reader's)
		strings.Repeat(unsealed, 1000),
		strings.Repeat(unsealed, 1000) + "not json\n",
		lines[0] + strings.Replace(lines[1], `{"actor_id"`, `{ "actor_id"`, 1),
		`{"record":"seal","envelope_count":0}` + "\n",
		strings.TrimSuffix(lines[0], "\n") + "\r\n",
		lines[0] + `{"actor_id":"a","adapter_id":"x","claimed_at":"2026-11-22T10:00:00Z","environment_id":"e","event_type":"a","payload":1}` + "\n",
		unsealed + lines[0],
		unsealed + lines[1],
		unsealed,
		lines[1],
		lines[0] + lines[1][:100],
		`{"payload":1,"payload":2}` + "\n",
		"{\"payload\":\"\xff\"}\n",
		`{"record":"manifest"}` + "\n",
		`{"record":"receipt","sequence":1}` + "\n",
		"SQLite format 3\x00\x10\x00\x02\x02",
		"",
		"\n",
		strings.Repeat("x", 5000) + "\n",
	}
}

// TestParallelMatchesReader: Parallel gives the records, lines, canonical
// forms and errors of a Reader, in either mode and with any number of
// workers.
func TestParallelMatchesReader(t *testing.T) {
	lim := evidence.Limits{Line: 4096}
	for i, in := range inputs(t) {
		for _, mode := range []Mode{Sealed, Unsealed} {
			want := readAll(t, []byte(in), mode, lim)
			for _, workers := range []int{1, 3} {
				got := readParallel(t, strings.NewReader(in), mode, lim, workers)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("input %d, mode %d, %d workers: Parallel gave\n%.2000s\nReader\n%.2000s", i, mode, workers,
						strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		}
	}
}

// TestParallelPause: a line is handed over as soon as it is read, not
// when more input comes (a person typing, a producer that paused).
func TestParallelPause(t *testing.T) {
	line := []byte(`{"event_type":"a","actor_id":"a","environment_id":"e","adapter_id":"x","claimed_at":"2026-11-22T10:00:00Z","payload":1}` + "\n")
	r, w := io.Pipe()
	p := NewParallel(r, ParallelConfig{Unsealed: true, Workers: 2})
	defer p.Close()
	go w.Write(line)
	got := make(chan error, 1)
	go func() {
		_, err := p.Next()
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the line read was not handed over while the input paused")
	}
	w.Close()
	if _, err := p.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the end: %v", err)
	}
}

func FuzzParallel(f *testing.F) {
	var bases [][]byte
	for _, in := range inputs(f) {
		if len(in) > 1<<14 {
			continue // the many-chunk streams: slow seeds
		}
		bases = append(bases, []byte(in))
	}
	for i := range bases {
		f.Add([]byte{}, true, uint8(i), uint16(0), uint8(0))
		f.Add([]byte{}, false, uint8(i), uint16(0), uint8(0))
	}
	lim := evidence.Limits{Line: 1 << 12}
	f.Fuzz(func(t *testing.T, patch []byte, sealed bool, base uint8, at uint16, cut uint8) {
		data := fuzzinput.Edit(bases, base, at, cut, patch)
		mode := Unsealed
		if sealed {
			mode = Sealed
		}
		want := readAll(t, data, mode, lim)
		got := readParallel(t, bytes.NewReader(data), mode, lim, 2)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("Parallel gave\n%s\nReader\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}
