package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"arxi.dev/arxi/pkg/store/storetest"
)

func event(i int) []byte { return []byte(strings.TrimSuffix(storetest.Event(i), "\n")) }

func want(t *testing.T, what string, r reply, status int, contains ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	for _, c := range contains {
		if !bytes.Contains(r.body, []byte(c)) {
			t.Fatalf("%s: body lacks %s: %s", what, c, r.body)
		}
	}
}

// TestUnixSocket runs the real binary on a Unix socket with a signing key
// and a trust root: records envelopes three ways, replays an idempotent
// request, seals, builds and fetches bundles and verifies them, each
// byte for byte what arxi-bundle and arxi-verify write for the same store;
// then shuts down on SIGTERM (exit 0, socket removed), restarts, and
// continues the same chain, the idempotency record still replayed.
func TestUnixSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "unix", map[string]string{
		"recorder": `sign_key = "key.pem"` + "\n" + `sign_passphrase_file = "key.pass"`,
		"verify":   `trust_root = "root.json"`,
	})
	keyFiles(t, e.dir)
	p := e.start(t)
	if st, err := os.Stat(filepath.Join(e.dir, "arxi.sock")); err != nil || st.Mode().Perm() != 0o660 {
		t.Fatalf("socket: %v %v", st.Mode(), err)
	}
	want(t, "health", p.do("GET", "/health", nil), 200, `{"status":"ok"}`)
	want(t, "ready", p.do("GET", "/ready", nil), 200, `{"status":"ready"}`)
	first := p.do("POST", "/v1/envelopes", event(0), "Idempotency-Key: e2e-1")
	want(t, "record", first, 201, `"signatures":[{"algorithm":"ed25519"`, `"receipt":{`)
	want(t, "with attachments", p.do("POST", "/v1/envelopes/with-attachments",
		[]byte(`{"envelope":`+string(event(1))+`,"attachments":[{"content_type":"text/plain","data":"aGVsbG8K"}]}`)), 201)
	want(t, "batch", p.do("POST", "/v1/envelopes/batch", []byte(storetest.Events(2, 12)), "Content-Type: application/x-ndjson"), 201, `"sequence":12}`)
	replay := p.do("POST", "/v1/envelopes", event(0), "Idempotency-Key: e2e-1")
	if !bytes.Equal(replay.body, first.body) || replay.header.Get("Idempotency-Replayed") != "true" {
		t.Fatalf("replay: %s", replay.body)
	}
	want(t, "seal", p.do("POST", "/v1/segments/seal", []byte(`{"reason":"manual"}`)), 200, `"reason":"manual"`)
	want(t, "more", p.do("POST", "/v1/envelopes/batch", []byte(storetest.Events(12, 20)), "Content-Type: application/x-ndjson"), 201)

	db := filepath.Join(e.dir, "arxi.db")
	for _, sel := range []struct{ json, flags string }{
		{`{"all":true}`, "--all"},
		{`{"trace_ids":["trace-1","trace-2"]}`, "--trace-id trace-2 --trace-id trace-1"},
		{`{"event_types":["tool.call"],"session_ids":["sess-3"]}`, "--event-type tool.call --session-id sess-3"},
	} {
		got := p.do("POST", "/v1/bundles/build", []byte(`{"selector":`+sel.json+`}`))
		args := append([]string{"--store", db}, strings.Fields(sel.flags)...)
		if got.status != 200 {
			t.Fatalf("build %s: %d %s\n%s", sel.json, got.status, got.body, p.logText())
		}
		if cli := tool(t, "arxi-bundle", args...); !bytes.Equal(got.body, cli) {
			t.Fatalf("POST /v1/bundles/build %s differs from arxi-bundle %s", sel.json, sel.flags)
		}
		zst := p.do("POST", "/v1/bundles/build", []byte(`{"selector":`+sel.json+`}`), "Accept: application/zstd")
		if cli := tool(t, "arxi-bundle", append(args, "--zstd")...); !bytes.Equal(zst.body, cli) || zst.header.Get("Content-Type") != "application/zstd" {
			t.Fatalf("zstd build %s differs from arxi-bundle --zstd", sel.json)
		}
		// The verdict is arxi-verify's, byte for byte, plain and zstd.
		path := filepath.Join(e.dir, "b.arxb")
		os.WriteFile(path, got.body, 0o644)
		v := p.do("POST", "/v1/bundles/verify", got.body, "Content-Type: application/x-ndjson")
		want(t, "verify", v, 200, `"status":"valid"`)
		if cli := tool(t, "arxi-verify", "--trust-root", filepath.Join(e.dir, "root.json"), path); !bytes.Equal(v.body, cli) {
			t.Fatalf("verdict differs from arxi-verify:\n%s\n%s", v.body, cli)
		}
		vz := p.do("POST", "/v1/bundles/verify", zst.body, "Content-Type: application/zstd")
		if !bytes.Equal(vz.body, v.body) {
			t.Fatalf("the zstd bundle's verdict differs")
		}
		in := p.do("POST", "/v1/bundles/inspect", got.body, "Content-Type: application/x-ndjson")
		if cli := tool(t, "arxi-bundle", "inspect", "--json", path); !bytes.Equal(in.body, cli) {
			t.Fatalf("inspect differs from arxi-bundle inspect --json")
		}
	}
	// A tampered bundle's verdict is invalid, and still arxi-verify's.
	all := p.do("POST", "/v1/bundles/build", []byte(`{"selector":{"all":true}}`))
	bad := bytes.Replace(all.body, []byte(`"i":5}`), []byte(`"i":6}`), 1)
	path := filepath.Join(e.dir, "bad.arxb")
	os.WriteFile(path, bad, 0o644)
	v := p.do("POST", "/v1/bundles/verify", bad, "Content-Type: application/x-ndjson")
	want(t, "tampered", v, 200, `"status":"invalid"`)
	cmd := fmt.Sprintf("%s --trust-root %s %s", "arxi-verify", filepath.Join(e.dir, "root.json"), path)
	dir, _ := tools()
	out, _ := execOut(filepath.Join(dir, "arxi-verify"), "--trust-root", filepath.Join(e.dir, "root.json"), path)
	if !bytes.Equal(v.body, out) {
		t.Fatalf("tampered verdict differs from %s", cmd)
	}
	// The evidence provider: the canonical bundle of each sealed segment.
	list := p.do("GET", "/v1/bundles", nil)
	var l struct {
		Bundles []struct {
			BundleID  string `json:"bundle_id"`
			SegmentID string `json:"segment_id"`
		} `json:"bundles"`
	}
	json.Unmarshal(list.body, &l)
	if len(l.Bundles) != 1 {
		t.Fatalf("bundles: %s", list.body)
	}
	if cli := tool(t, "arxi-bundle", "list", "--store", db, "--json"); !bytes.Contains(cli, []byte(l.Bundles[0].BundleID)) {
		t.Fatalf("arxi-bundle list does not list %s: %s", l.Bundles[0].BundleID, cli)
	}
	byID := p.do("GET", "/v1/bundles/"+l.Bundles[0].BundleID, nil)
	if cli := tool(t, "arxi-bundle", "--store", db, "--segment", l.Bundles[0].SegmentID); !bytes.Equal(byID.body, cli) {
		t.Fatal("GET /v1/bundles/{id} differs from arxi-bundle --segment ID")
	}
	if cli := tool(t, "arxi-bundle", "--store", db, "--id", l.Bundles[0].BundleID); !bytes.Equal(byID.body, cli) {
		t.Fatal("GET /v1/bundles/{id} differs from arxi-bundle --id")
	}
	// Metrics and probes need no token on the socket even in token mode:
	// checked on TCP in TestTCP.
	want(t, "metrics", p.do("GET", "/metrics", nil), 200, `arxi_sidecar_envelopes_appended_total 20`, `arxi_sidecar_idempotency_total{outcome="replayed"} 1`)

	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, p.logText())
	}
	if _, err := os.Stat(filepath.Join(e.dir, "arxi.sock")); !os.IsNotExist(err) {
		t.Errorf("the socket is left behind: %v", err)
	}
	p = e.start(t)
	next := p.do("POST", "/v1/envelopes", event(20))
	want(t, "after restart", next, 201, `"sequence":9,`)
	replay = p.do("POST", "/v1/envelopes", event(0), "Idempotency-Key: e2e-1")
	if !bytes.Equal(replay.body, first.body) || replay.header.Get("Idempotency-Replayed") != "true" {
		t.Fatalf("replay after restart: %d %s", replay.status, replay.body)
	}
	if p.stop(syscall.SIGINT) != 0 {
		t.Fatal("exit status after SIGINT")
	}
	storetest.CheckStream(t, tool(t, "arxi-bundle", "--store", db, "--all")[bytes.IndexByte(tool(t, "arxi-bundle", "--store", db, "--all"), '\n')+1:])
}

func execOut(name string, args ...string) ([]byte, error) {
	return execCommand(name, args...).Output()
}

// TestTCP runs the real binary on loopback TCP with a bearer token: the
// token is required everywhere but on probes, the challenge follows RFC
// 6750, and a shutdown with seal_on_shutdown seals the open segment.
func TestTCP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "tcp", map[string]string{"recorder": "seal_on_shutdown = true"})
	p := e.start(t)
	for _, probe := range []string{"/health", "/startup", "/ready"} {
		want(t, probe, p.do("GET", probe, nil, "Authorization: "), 200)
	}
	r := p.do("GET", "/metrics", nil, "Authorization: ")
	if r.status != 401 || r.header.Get("WWW-Authenticate") != `Bearer realm="arxi"` {
		t.Fatalf("metrics without the token: %d %v", r.status, r.header)
	}
	r = p.do("POST", "/v1/envelopes", event(0), "Authorization: Bearer wrong")
	if r.status != 401 || r.header.Get("WWW-Authenticate") != `Bearer realm="arxi", error="invalid_token"` || bytes.Contains(r.body, []byte(e.token)) {
		t.Fatalf("a wrong token: %d %v %s", r.status, r.header, r.body)
	}
	want(t, "metrics", p.do("GET", "/metrics", nil), 200, "arxi_sidecar_requests_total")
	want(t, "record", p.do("POST", "/v1/envelopes", event(0), "X-Correlation-Id: tcp-1"), 201)
	want(t, "config", p.do("GET", "/v1/config", nil), 200, `"token_file":"[redacted]"`, `"path":"[redacted]"`)
	if cfg := p.do("GET", "/v1/config", nil); bytes.Contains(cfg.body, []byte(e.dir)) {
		t.Fatalf("the config response shows a path: %s", cfg.body)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(p.logText(), `"reason":"shutdown"`) {
		t.Errorf("no shutdown seal logged:\n%s", p.logText())
	}
	list := tool(t, "arxi-bundle", "list", "--store", filepath.Join(e.dir, "arxi.db"), "--json")
	if bytes.Count(list, []byte("bundle_id")) != 1 {
		t.Errorf("after the shutdown seal, arxi-bundle list shows %s", list)
	}
	if strings.Contains(p.logText(), e.token) {
		t.Error("the log shows the token")
	}
}

// TestStartupRefusals: a second sidecar on a live socket, and one on a
// store another holds, refuse to start with their codes.
func TestStartupRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "unix", nil)
	e.start(t)
	var stderr bytes.Buffer
	cmd := execCommand(os.Args[0], "--config", e.config)
	cmd.Stderr = &stderr
	err := cmd.Run()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(stderr.String(), "another process is listening on the socket") {
		t.Fatalf("second sidecar on the socket: %v %s", err, stderr.String())
	}
	other := newEnv(t, "tcp", nil)
	os.WriteFile(other.config, bytes.Replace(must(os.ReadFile(other.config)), []byte(`path = "arxi.db"`), []byte(`path = "`+filepath.Join(e.dir, "arxi.db")+`"`), 1), 0o644)
	stderr.Reset()
	cmd = execCommand(os.Args[0], "--config", other.config)
	cmd.Stderr = &stderr
	cmd.Run()
	if cmd.ProcessState.ExitCode() != 4 || !strings.Contains(stderr.String(), "store.locked") {
		t.Fatalf("second sidecar on the store: exit %d %s", cmd.ProcessState.ExitCode(), stderr.String())
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
