package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/backend"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestPostgresStore runs the sidecar on a log of a real PostgreSQL server
// ([store] backend = "postgres"): it records, replays an idempotent
// request, seals on shutdown, and a second sidecar on the same log
// continues the chain while a third is refused with store.locked.
func TestPostgresStore(t *testing.T) {
	t.Parallel()
	url := pgtest.LogURL(pgtest.Shared(t).NewDatabase(t), "sidecar-1")
	e := newEnv(t, "unix", map[string]string{"recorder": "seal_on_shutdown = true"})
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte(`path = "arxi.db"`), []byte(`backend = "postgres"`+"\nurl = "+strconv.Quote(url)), 1)
	if err := os.WriteFile(e.config, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	p := e.start(t)
	first := p.do("POST", "/v1/envelopes", event(0), "Idempotency-Key: pg-1")
	want(t, "record", first, 201, `"receipt":{`)
	want(t, "batch", p.do("POST", "/v1/envelopes/batch", []byte(storetest.Events(1, 5)), "Content-Type: application/x-ndjson"), 201, `"sequence":5}`)
	if replay := p.do("POST", "/v1/envelopes", event(0), "Idempotency-Key: pg-1"); !bytes.Equal(replay.body, first.body) {
		t.Errorf("replay: %s", replay.body)
	}
	if !strings.Contains(p.logText(), `"backend":"postgres"`) {
		t.Errorf("the log does not name the backend:\n%s", p.logText())
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.logText())
	}

	second := e.start(t)
	want(t, "continue", second.do("POST", "/v1/envelopes", event(5)), 201, `"sequence":1}`)
	third := newEnv(t, "unix", nil)
	if err := os.WriteFile(third.config, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "--config", third.config)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 4 || !bytes.Contains(out, []byte("store.locked")) {
		t.Errorf("a second sidecar on the log: exit %d: %s", code, out)
	}
	if code := second.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d:\n%s", code, second.logText())
	}
	s, err := backend.OpenReader(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sn, _ := s.Snapshot(context.Background())
	defer sn.Close()
	segs, err := sn.Segments(context.Background())
	if err != nil || len(segs) != 2 || segs[0].Count != 5 || segs[1].Count != 1 || !segs[0].Sealed() || !segs[1].Sealed() {
		t.Fatalf("segments %v: %v", segs, err)
	}
	if _, err := sn.Check(context.Background(), store.CheckOptions{}); err != nil {
		t.Error(err)
	}
}
