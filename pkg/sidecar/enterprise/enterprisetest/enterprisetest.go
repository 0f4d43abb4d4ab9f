// Package enterprisetest is a real control plane for tests of enterprise
// mode: an HTTP server on loopback implementing SIDECAR.md §4's API
// (authorize, hooks, readiness), whose answers a test switches (allow,
// deny, quota, slowness, garbage, hook failures, not ready) and which it
// can stop, so that connections are refused, and start again on the same
// address. It records every call in arrival order, and checks every one
// against the committed docs/generated/control-plane.openapi.json: a call
// that breaks the contract fails the test when it ends.
package enterprisetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"arxi.dev/arxi/internal/contracttest"
	"arxi.dev/arxi/pkg/sidecar/api"
)

// Answer is how the control plane answers a call.
type Answer struct {
	Status      int    // 0: 200
	ContentType string // "": application/json; EchoAuth in it as in Body
	// Body is the answer's body; EchoAuth in it is replaced with the
	// call's Authorization header (a control plane that leaks it).
	Body     string
	Delay    time.Duration // wait this long first (or until the caller gives up)
	Location string        // with a 3xx status: the Location header
	// Raw sends Body alone on the connection, no status line or
	// headers, and closes it: an answer that is not HTTP.
	Raw bool
}

// EchoAuth in an Answer's Body stands for the call's Authorization header.
const EchoAuth = "{{authorization}}"

// Answers of the authorize call.
var (
	Allow     = Answer{Body: `{"decision":"allow","quota":{"remaining":1000}}`}
	AllowBare = Answer{Body: `{"decision":"allow"}`}
	Deny      = Answer{Body: `{"decision":"deny","reason":"principal lacks the recorder role"}`}
	Quota     = Answer{Body: `{"decision":"allow","quota":{"remaining":0},"reason":"monthly envelopes used up"}`}
	// Delivered is a hook's answer.
	Delivered = Answer{Status: http.StatusNoContent}
	Failing   = Answer{Status: http.StatusInternalServerError, Body: `{"error":"hooks are down"}`}
)

// Call is one call the control plane received.
type Call struct {
	Method, Path  string
	Authorization string
	Body          []byte
	JSON          map[string]any // Body decoded, nil if it is not a JSON object
}

// Str is a string member of the call's body, "" if absent.
func (c Call) Str(key string) string { s, _ := c.JSON[key].(string); return s }

// ControlPlane is the test control plane.
type ControlPlane struct {
	// Token is the bearer token it expects; a call without it is
	// answered 401.
	Token string

	mu        sync.Mutex
	addr      string
	srv       *http.Server
	authorize Answer
	hooks     map[string]Answer // by phase
	ready     Answer
	calls     []Call
	readies   int
	counting  bool
	counts    map[string]int
	conns     int
	contract  *contracttest.ControlPlane
	broken    []string // the calls that break the contract, with why
}

// Start starts a control plane on a free loopback port expecting token;
// it allows everything and takes every hook until told otherwise, and
// stops when the test ends.
func Start(t testing.TB, token string) *ControlPlane {
	t.Helper()
	cp := &ControlPlane{Token: token, authorize: Allow, ready: Answer{Body: `{"status":"ready"}`},
		hooks:    map[string]Answer{api.PhaseAdmission: Delivered, api.PhaseResult: Delivered},
		contract: contracttest.LoadControlPlane(t, contracttest.Dir(t))}
	t.Cleanup(func() { // after Stop: no call is in flight
		for _, b := range cp.Broken() {
			t.Errorf("a call to the control plane breaks control-plane.openapi.json: %s", b)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cp.addr = ln.Addr().String()
	cp.serve(ln)
	t.Cleanup(cp.Stop)
	return cp
}

// URL is the control plane's base URL.
func (cp *ControlPlane) URL() string { return "http://" + cp.addr }

func (cp *ControlPlane) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(cp.handle), ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				cp.mu.Lock()
				cp.conns++
				cp.mu.Unlock()
			}
		}}
	cp.mu.Lock()
	cp.srv = srv
	cp.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the listener and every connection: calls are refused.
func (cp *ControlPlane) Stop() {
	cp.mu.Lock()
	srv := cp.srv
	cp.srv = nil
	cp.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Restart listens again on the same address.
func (cp *ControlPlane) Restart(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the port may take a moment to come free
		if ln, err = net.Listen("tcp", cp.addr); err == nil {
			cp.serve(ln)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("restart the control plane on %s: %v", cp.addr, err)
}

// SetAuthorize sets the answer of the authorize call.
func (cp *ControlPlane) SetAuthorize(a Answer) {
	cp.mu.Lock()
	cp.authorize = a
	cp.mu.Unlock()
}

// SetHook sets the answer of the hooks of phase.
func (cp *ControlPlane) SetHook(phase string, a Answer) {
	cp.mu.Lock()
	cp.hooks[phase] = a
	cp.mu.Unlock()
}

// SetReady sets the answer of the readiness endpoint.
func (cp *ControlPlane) SetReady(a Answer) {
	cp.mu.Lock()
	cp.ready = a
	cp.mu.Unlock()
}

// Calls returns the calls received so far to path ("" for all), in order.
func (cp *ControlPlane) Calls(path string) []Call {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	var out []Call
	for _, c := range cp.calls {
		if path == "" || c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// Counting makes the control plane count its calls by path instead of
// recording them, so that it costs a benchmark little: Calls, For and
// WaitCalls see nothing after it.
func (cp *ControlPlane) Counting() {
	cp.mu.Lock()
	cp.counting, cp.counts = true, map[string]int{}
	cp.mu.Unlock()
}

// Count is the number of calls to path since Counting.
func (cp *ControlPlane) Count(path string) int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.counts[path]
}

// Conns is the number of connections accepted.
func (cp *ControlPlane) Conns() int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.conns
}

// ReadyCalls is the number of readiness calls received (they are not
// among Calls).
func (cp *ControlPlane) ReadyCalls() int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.readies
}

// BodySep separates a report of Broken from the call's body.
const BodySep = "\n\tbody: "

// Broken returns the calls received so far that break the contract
// (control-plane.openapi.json), each with why, and forgets them.
func (cp *ControlPlane) Broken() []string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	b := cp.broken
	cp.broken = nil
	return b
}

// Reset forgets the calls received.
func (cp *ControlPlane) Reset() {
	cp.mu.Lock()
	cp.calls = nil
	cp.mu.Unlock()
}

// For returns the authorize and hook calls carrying correlation id, in
// order.
func (cp *ControlPlane) For(correlation string) []Call {
	var out []Call
	for _, c := range cp.Calls("") {
		if c.Str("correlation_id") == correlation {
			out = append(out, c)
		}
	}
	return out
}

func (cp *ControlPlane) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	c := Call{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Body: body}
	cp.mu.Lock()
	counting := cp.counting
	cp.mu.Unlock()
	var m map[string]any
	if !counting && json.Unmarshal(body, &m) == nil {
		c.JSON = m
	}
	if !counting { // a benchmark's calls are the same as a test's
		if errs := cp.contract.RequestErrors(r, body); len(errs) > 0 {
			cp.mu.Lock()
			cp.broken = append(cp.broken, fmt.Sprintf("%s %s: %v"+BodySep+"%s", r.Method, r.URL.Path, errors.Join(errs...), body))
			cp.mu.Unlock()
		}
	}
	var phase string
	if r.URL.Path == api.PathHooks {
		phase = c.Str("phase")
		if counting { // the phase without decoding the body
			phase = api.PhaseResult
			if strings.Contains(string(body), `"phase":"`+api.PhaseAdmission+`"`) {
				phase = api.PhaseAdmission
			}
		}
	}
	cp.mu.Lock()
	switch {
	case r.URL.Path == api.PathControlPlaneReady:
		cp.readies++
	case counting:
		cp.counts[r.URL.Path]++
	default:
		cp.calls = append(cp.calls, c)
	}
	var a Answer
	switch r.URL.Path {
	case api.PathAuthorize:
		a = cp.authorize
	case api.PathHooks:
		a = cp.hooks[phase]
	case api.PathControlPlaneReady:
		a = cp.ready
	default:
		a = Answer{Status: http.StatusNotFound, Body: `{"error":"no route"}`}
	}
	cp.mu.Unlock()
	if c.Authorization != "Bearer "+cp.Token {
		a = Answer{Status: http.StatusUnauthorized, Body: `{"error":"bad token"}`}
	}
	if a.Delay > 0 {
		select {
		case <-time.After(a.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.Raw {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			io.WriteString(conn, strings.ReplaceAll(a.Body, EchoAuth, c.Authorization))
			conn.Close()
		}
		return
	}
	if a.ContentType == "" {
		a.ContentType = api.MediaJSON
	}
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	w.Header().Set("Content-Type", strings.ReplaceAll(a.ContentType, EchoAuth, c.Authorization))
	if a.Location != "" {
		w.Header().Set("Location", a.Location)
	}
	w.WriteHeader(a.Status)
	io.WriteString(w, strings.ReplaceAll(a.Body, EchoAuth, c.Authorization))
}

// WaitCalls waits until n calls to path have arrived (hooks of a streamed
// answer follow its last byte), or the context ends.
func (cp *ControlPlane) WaitCalls(ctx context.Context, path string, n int) error {
	for len(cp.Calls(path)) < n {
		select {
		case <-ctx.Done():
			return errors.New("the control plane did not receive the calls awaited")
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}
