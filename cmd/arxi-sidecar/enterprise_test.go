package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sidecar/api"
	"arxi.dev/arxi/pkg/sidecar/enterprise/enterprisetest"
	"arxi.dev/arxi/pkg/store/storetest"
)

// ent is a sidecar in enterprise mode (loopback TCP, token auth) in front
// of a test control plane, with every answer it gave kept for the check
// that no token is ever echoed.
type ent struct {
	t       *testing.T
	p       *proc
	cp      *enterprisetest.ControlPlane
	cpToken string

	mu      sync.Mutex
	answers []string
	n       int
	sent    int // requests sent but probes and /metrics
}

// startEnterprise runs a control plane and a sidecar in enforce mode with
// decision_timeout 500ms; sections adds TOML to the sections it names
// ("enterprise" included).
func startEnterprise(t *testing.T, sections map[string]string) *ent {
	t.Helper()
	tok := make([]byte, 24)
	rand.Read(tok)
	x := &ent{t: t, cpToken: fmt.Sprintf("cp-%x", tok)}
	x.cp = enterprisetest.Start(t, x.cpToken)
	s := map[string]string{"enterprise": `mode = "enforce"` + "\n" + `control_plane_url = "` + x.cp.URL() + `"` + "\n" +
		`control_plane_token_file = "cp-token"` + "\n" + `decision_timeout = "500ms"`}
	for k, v := range sections {
		s[k] += "\n" + v
	}
	e := newEnv(t, "tcp", s)
	if err := os.WriteFile(filepath.Join(e.dir, "cp-token"), []byte(x.cpToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	x.p = e.start(t)
	return x
}

// identity is the good identity every request carries unless a header
// argument replaces it.
var identity = []string{api.HeaderTenantID + ": acme", api.HeaderPrincipalID + ": agent:alpha", api.HeaderAuthnMethod + ": " + api.AuthnOIDC}

// send sends a request with the sidecar's token, the identity and a fresh
// correlation id, which it returns. headers are "Name: value" (replacing
// the identity's header of that name), "Name:" (removing it) or, repeated,
// several values of one header.
func (x *ent) send(method, path string, body []byte, headers ...string) (reply, string) {
	x.t.Helper()
	x.mu.Lock()
	x.n++
	corr := "ent-" + strconv.Itoa(x.n)
	if path != "/metrics" && !slices.Contains([]string{"/health", "/startup", "/ready"}, path) {
		x.sent++
	}
	x.mu.Unlock()
	req, err := http.NewRequest(method, x.p.base+path, bytes.NewReader(body))
	if err != nil {
		x.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+x.p.token)
	req.Header.Set(api.HeaderCorrelationID, corr)
	if body != nil {
		req.Header.Set("Content-Type", api.MediaJSON)
	}
	given := map[string]bool{}
	for _, h := range append(slices.Clone(identity), headers...) {
		k, v, _ := strings.Cut(h, ":")
		v = strings.TrimPrefix(v, " ")
		k = http.CanonicalHeaderKey(k)
		switch {
		case v == "":
			req.Header.Del(k)
		case given[k]:
			req.Header.Add(k, v)
		default:
			req.Header.Set(k, v)
		}
		given[k] = slices.Contains(headers, h) && !given[k]
	}
	resp, err := x.p.client.Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		x.t.Fatal(err)
	}
	r := reply{resp.StatusCode, resp.Header, b}
	var dump bytes.Buffer
	resp.Header.Write(&dump)
	x.mu.Lock()
	x.answers = append(x.answers, dump.String()+string(b))
	x.mu.Unlock()
	return r, corr
}

// problem checks that r is a problem with status and code and returns it.
func problem(t *testing.T, what string, r reply, status int, code errcode.Code) map[string]any {
	t.Helper()
	var p map[string]any
	if r.status != status || r.header.Get("Content-Type") != api.MediaProblem || json.Unmarshal(r.body, &p) != nil || p["code"] != string(code) {
		t.Fatalf("%s: %d %s, want a %d %s problem", what, r.status, r.body, status, code)
	}
	return p
}

// phases lists a correlation's control-plane calls: "authorize",
// "admission", "result".
func (x *ent) phases(corr string) []string {
	var out []string
	for _, c := range x.cp.For(corr) {
		if c.Path == api.PathAuthorize {
			out = append(out, "authorize")
		} else {
			out = append(out, c.Str("phase"))
		}
	}
	return out
}

// envelopes is the open segment's envelope count.
func (x *ent) envelopes() int {
	x.t.Helper()
	r, _ := x.send("GET", "/v1/segments/active", nil)
	var s struct {
		EnvelopeCount int `json:"envelope_count"`
	}
	if r.status == 404 {
		return 0
	}
	if r.status != 200 || json.Unmarshal(r.body, &s) != nil {
		x.t.Fatalf("active segment: %d %s", r.status, r.body)
	}
	return s.EnvelopeCount
}

// noSecrets checks that no answer and no log line carries either token,
// or any 16 characters of one.
func (x *ent) noSecrets() {
	x.t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	log := x.p.logText()
	for _, tok := range []string{x.cpToken, x.p.token} {
		for i := 0; i+16 <= len(tok); i++ {
			part := tok[i : i+16]
			for _, a := range x.answers {
				if strings.Contains(a, part) {
					x.t.Fatalf("an answer carries a token's %q: %s", part, a)
				}
			}
			if strings.Contains(log, part) {
				x.t.Fatalf("the log carries a token's %q", part)
			}
		}
	}
	if len(x.answers) == 0 || !strings.Contains(x.p.logText(), `"msg":"enterprise mode`) {
		x.t.Fatal("nothing was checked")
	}
}

// TestEnterprise runs the real binary in enterprise mode against a real
// HTTP control plane: every row of docs/enterprise.md's failure table,
// the identity cases, the hooks in order with their phases, outcomes and
// envelope ids, the 502-then-retry path with exactly one envelope stored,
// the probes while the control plane is down or hanging, the metrics, one
// authorize call per request, and no token in any answer or log line.
func TestEnterprise(t *testing.T) {
	t.Parallel()
	x := startEnterprise(t, map[string]string{"probes": `readiness_mode = "storage_and_enterprise"`})
	cp := x.cp
	allowAll := func() {
		cp.SetAuthorize(enterprisetest.Allow)
		cp.SetHook(api.PhaseAdmission, enterprisetest.Delivered)
		cp.SetHook(api.PhaseResult, enterprisetest.Delivered)
	}
	decisions := map[string]int{} // but allow, counted at the end
	hookFailures := map[string]int{}

	t.Run("failure table", func(t *testing.T) {
		slow := 5 * time.Second // past decision_timeout (500ms)
		authorize := func(a enterprisetest.Answer) func() { return func() { cp.SetAuthorize(a) } }
		answer := func(body string) func() { return authorize(enterprisetest.Answer{Body: body}) }
		hook := func(phase string, a enterprisetest.Answer) func() { return func() { cp.SetHook(phase, a) } }
		const (
			all     = "authorize admission result"
			refused = "authorize"
		)
		allowBody := enterprisetest.Allow.Body
		for i, tc := range []struct {
			name     string
			set      func() // switches the control plane
			req      string // "": POST /v1/envelopes; list, bundle, bad: a segment list, a bundle, a bad envelope
			status   int
			code     errcode.Code
			decision string // the outcome counted
			calls    string // the control plane's calls for the request
		}{
			{"allow", authorize(enterprisetest.Allow), "", 201, "", api.DecisionAllow, all},
			{"allow without quota", authorize(enterprisetest.AllowBare), "", 201, "", api.DecisionAllow, all},
			{"deny", authorize(enterprisetest.Deny), "", 403, errcode.EnterpriseDenied, api.DecisionDeny, refused},
			{"quota exhausted", authorize(enterprisetest.Quota), "", 429, errcode.EnterpriseQuota, api.DecisionQuotaExhausted, refused},
			{"deny with quota 0", answer(`{"decision":"deny","quota":{"remaining":0}}`), "", 429, errcode.EnterpriseQuota, api.DecisionQuotaExhausted, refused},
			{"slower than decision_timeout", authorize(enterprisetest.Answer{Body: allowBody, Delay: slow}), "", 503, errcode.EnterpriseUnavailable, api.DecisionUnavailable, refused},
			{"status 500", authorize(enterprisetest.Answer{Status: 500, Body: allowBody}), "", 503, errcode.EnterpriseUnavailable, api.DecisionUnavailable, refused},
			{"status 401", authorize(enterprisetest.Answer{Status: 401, Body: allowBody}), "", 503, errcode.EnterpriseUnavailable, api.DecisionUnavailable, refused},
			{"status 204", authorize(enterprisetest.Answer{Status: 204}), "", 503, errcode.EnterpriseUnavailable, api.DecisionUnavailable, refused},
			{"redirect not followed", authorize(enterprisetest.Answer{Status: 307, Location: cp.URL() + "/elsewhere", Body: allowBody}), "", 503, errcode.EnterpriseUnavailable, api.DecisionUnavailable, refused},
			{"connection refused", cp.Stop, "", 503, errcode.EnterpriseUnavailable, api.DecisionUnavailable, ""},
			{"not JSON", answer("allow"), "", 503, errcode.EnterpriseUnavailable, api.DecisionMalformed, refused},
			{"empty", answer(""), "", 503, errcode.EnterpriseUnavailable, api.DecisionMalformed, refused},
			{"unknown member", answer(`{"decision":"allow","scope":"all"}`), "", 503, errcode.EnterpriseUnavailable, api.DecisionMalformed, refused},
			{"not a decision", answer(`{"decision":"yes"}`), "", 503, errcode.EnterpriseUnavailable, api.DecisionMalformed, refused},
			{"negative quota", answer(`{"decision":"allow","quota":{"remaining":-1}}`), "", 503, errcode.EnterpriseUnavailable, api.DecisionMalformed, refused},
			{"duplicate key", answer(`{"decision":"deny","decision":"allow"}`), "", 503, errcode.EnterpriseUnavailable, api.DecisionMalformed, refused},
			{"not application/json", authorize(enterprisetest.Answer{ContentType: "text/html", Body: allowBody}), "", 503, errcode.EnterpriseUnavailable, api.DecisionMalformed, refused},
			{"answer too large", answer(`{"decision":"allow","reason":"` + strings.Repeat("x", 20000) + `"}`), "", 503, errcode.EnterpriseUnavailable, api.DecisionMalformed, refused},
			{"a reason that echoes the token", answer(`{"decision":"deny","reason":"` + enterprisetest.EchoAuth + `"}`), "", 403, errcode.EnterpriseDenied, api.DecisionDeny, refused},
			{"a decision that echoes the token", answer(`{"decision":"` + enterprisetest.EchoAuth + `"}`), "", 503, errcode.EnterpriseUnavailable, api.DecisionMalformed, refused},
			{"a key that echoes the token", answer(`{"decision":"allow","` + enterprisetest.EchoAuth + `":1}`), "", 503, errcode.EnterpriseUnavailable, api.DecisionMalformed, refused},
			{"not HTTP, echoing the token", authorize(enterprisetest.Answer{Raw: true, Body: enterprisetest.EchoAuth + "\r\n\r\n"}), "", 503, errcode.EnterpriseUnavailable, api.DecisionUnavailable, refused},
			{"a media type that echoes the token", authorize(enterprisetest.Answer{ContentType: "text/" + enterprisetest.EchoAuth, Body: allowBody}), "", 503, errcode.EnterpriseUnavailable, api.DecisionMalformed, refused},
			{"admission hook fails", hook(api.PhaseAdmission, enterprisetest.Failing), "", 502, errcode.EnterpriseHookFailed, api.DecisionAllow, "authorize admission"},
			{"admission hook slow", hook(api.PhaseAdmission, enterprisetest.Answer{Status: 204, Delay: slow}), "", 502, errcode.EnterpriseHookFailed, api.DecisionAllow, "authorize admission"},
			{"result hook fails on a read", hook(api.PhaseResult, enterprisetest.Failing), "list", 200, "", api.DecisionAllow, all},
			{"result hook fails after a streamed bundle", hook(api.PhaseResult, enterprisetest.Failing), "bundle", 200, "", api.DecisionAllow, all},
			{"result hook fails after a failed write", hook(api.PhaseResult, enterprisetest.Failing), "bad", 400, errcode.InputMissingField, api.DecisionAllow, all},
		} {
			allowAll()
			before := x.envelopes()
			tc.set()
			var r reply
			var corr string
			switch tc.req {
			case "list":
				r, corr = x.send("GET", "/v1/segments", nil)
			case "bundle":
				r, corr = x.send("POST", "/v1/bundles/build", []byte(`{"selector":{"all":true}}`))
				// Its result hook follows the stream's last byte.
				for deadline := time.Now().Add(10 * time.Second); len(cp.For(corr)) < 3 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				}
			case "bad":
				r, corr = x.send("POST", "/v1/envelopes", []byte(`{"event_type":"x"}`))
			default:
				r, corr = x.send("POST", "/v1/envelopes", event(100+i))
			}
			if tc.code != "" {
				p := problem(t, tc.name, r, tc.status, tc.code)
				if tc.code == errcode.EnterpriseUnavailable && r.header.Get(api.HeaderRetryAfter) != "1" {
					t.Errorf("%s: 503 without Retry-After", tc.name)
				}
				if p["receipts"] != nil {
					t.Errorf("%s: a refusal with receipts: %s", tc.name, r.body)
				}
			} else if r.status != tc.status {
				t.Fatalf("%s: %d %s", tc.name, r.status, r.body)
			}
			if tc.name == "connection refused" {
				cp.Restart(t)
			}
			allowAll()
			if got := strings.Join(x.phases(corr), " "); got != tc.calls {
				t.Errorf("%s: control-plane calls %q, want %q", tc.name, got, tc.calls)
			}
			if tc.decision != api.DecisionAllow {
				decisions[tc.decision]++
			}
			switch {
			case strings.HasPrefix(tc.name, "admission hook"):
				hookFailures[api.PhaseAdmission]++
			case strings.HasPrefix(tc.name, "result hook"):
				hookFailures[api.PhaseResult]++
			}
			want := before
			if tc.status == 201 {
				want++
			}
			if got := x.envelopes(); got != want {
				t.Errorf("%s: %d envelopes after, %d before: the handler ran on a refusal", tc.name, got, before)
			}
		}
		if calls := cp.Calls("/elsewhere"); len(calls) != 0 {
			t.Errorf("a redirect was followed: %+v", calls)
		}
	})

	t.Run("deny reasons", func(t *testing.T) {
		cp.SetAuthorize(enterprisetest.Deny)
		r, _ := x.send("POST", "/v1/segments", []byte("{}"))
		decisions[api.DecisionDeny]++
		if p := problem(t, "deny", r, 403, errcode.EnterpriseDenied); !strings.Contains(p["detail"].(string), "principal lacks the recorder role") {
			t.Errorf("deny without its reason: %s", r.body)
		}
		allowAll()
	})

	identityRefused := 0
	t.Run("identity", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			headers []string
			field   string
		}{
			{"no tenant", []string{api.HeaderTenantID + ":"}, "x-tenant-id"},
			{"no principal", []string{api.HeaderPrincipalID + ":"}, "x-principal-id"},
			{"no method", []string{api.HeaderAuthnMethod + ":"}, "x-authn-method"},
			{"no identity", []string{api.HeaderTenantID + ":", api.HeaderPrincipalID + ":", api.HeaderAuthnMethod + ":"}, "x-tenant-id"},
			{"tab in the tenant", []string{api.HeaderTenantID + ": ac\tme"}, "x-tenant-id"},
			{"principal not UTF-8", []string{api.HeaderPrincipalID + ": agent\xff"}, "x-principal-id"},
			{"principal of 257 bytes", []string{api.HeaderPrincipalID + ": " + strings.Repeat("p", 257)}, "x-principal-id"},
			{"two tenants", []string{api.HeaderTenantID + ": a", api.HeaderTenantID + ": b"}, "x-tenant-id"},
			{"unknown method", []string{api.HeaderAuthnMethod + ": password"}, "x-authn-method"},
			{"namespace with a C1 control", []string{api.HeaderNamespaceID + ": ns\u0085"}, "x-namespace-id"},
		} {
			r, corr := x.send("POST", "/v1/envelopes", event(200), tc.headers...)
			identityRefused++
			if p := problem(t, tc.name, r, 400, errcode.EnterpriseIdentity); p["field"] != tc.field {
				t.Errorf("%s: field %v, want %s", tc.name, p["field"], tc.field)
			}
			if strings.Contains(string(r.body), "ac\tme") || strings.Contains(string(r.body), "ppppp") {
				t.Errorf("%s: the problem repeats the header's value: %s", tc.name, r.body)
			}
			if calls := cp.For(corr); len(calls) != 0 {
				t.Errorf("%s: a malformed identity reached the control plane: %+v", tc.name, calls)
			}
		}
		// The namespace is optional, and passed on when given; the probes
		// and /metrics need no identity.
		r, corr := x.send("POST", "/v1/envelopes", event(201), api.HeaderNamespaceID+": ns-1", api.HeaderPrincipalID+": ünïcode agent")
		want(t, "with a namespace", r, 201)
		if a := cp.For(corr); len(a) == 0 || a[0].Str("namespace_id") != "ns-1" || a[0].Str("principal_id") != "ünïcode agent" || a[0].Str("authn_method") != api.AuthnOIDC {
			t.Errorf("authorize body: %+v", a)
		}
		for _, path := range []string{"/health", "/startup", "/metrics"} {
			want(t, path, x.p.do("GET", path, nil), 200)
		}
	})

	t.Run("hooks in order", func(t *testing.T) {
		r, corr := x.send("POST", "/v1/envelopes/batch", []byte(storetest.Events(300, 303)), "Content-Type: "+api.MediaNDJSON)
		want(t, "batch", r, 201)
		calls := cp.For(corr)
		if got := strings.Join(x.phases(corr), " "); got != "authorize admission result" {
			t.Fatalf("calls %q", got)
		}
		auth, adm, res := calls[0], calls[1], calls[2]
		if auth.Str("operation") != api.OpEnvelopesBatch || adm.Str("operation") != api.OpEnvelopesBatch || res.Str("operation") != api.OpEnvelopesBatch {
			t.Errorf("operations %s %s %s", auth.Body, adm.Body, res.Body)
		}
		if adm.Str("outcome") != api.OutcomeAdmitted || adm.JSON["status"] != nil || len(adm.JSON["envelope_ids"].([]any)) != 0 {
			t.Errorf("admission hook %s", adm.Body)
		}
		if res.Str("outcome") != api.OutcomeSucceeded || res.JSON["status"] != float64(201) || res.Str("tenant_id") != "acme" || res.Str("principal_id") != "agent:alpha" {
			t.Errorf("result hook %s", res.Body)
		}
		var ids []any
		for line := range bytes.Lines(r.body) {
			var rc map[string]any
			json.Unmarshal(line, &rc)
			ids = append(ids, rc["envelope_id"])
		}
		if got, _ := res.JSON["envelope_ids"].([]any); len(ids) != 3 || !slices.Equal(got, ids) {
			t.Errorf("result hook ids %v, receipts' %v", got, ids)
		}
		for _, c := range calls {
			if c.Authorization != "Bearer "+x.cpToken {
				t.Errorf("the control plane got Authorization %q", c.Authorization)
			}
		}
		// An idempotent replay is decided and reported too, as replayed,
		// with the same envelope id; a failure is reported as failed.
		first, _ := x.send("POST", "/v1/envelopes", event(304), "Idempotency-Key: hooks-1")
		again, corr2 := x.send("POST", "/v1/envelopes", event(304), "Idempotency-Key: hooks-1")
		if first.status != 201 || again.header.Get(api.HeaderIdempotencyReplayed) != api.HeaderTrue || !bytes.Equal(first.body, again.body) {
			t.Fatalf("replay: %d %s", again.status, again.body)
		}
		rep := cp.For(corr2)
		var env struct {
			Receipt struct {
				EnvelopeID string `json:"envelope_id"`
			}
		}
		json.Unmarshal(first.body, &env)
		if len(rep) != 3 || rep[2].Str("outcome") != api.OutcomeReplayed || fmt.Sprint(rep[2].JSON["envelope_ids"]) != "["+env.Receipt.EnvelopeID+"]" {
			t.Errorf("replay hooks %+v", rep)
		}
		bad, corr3 := x.send("POST", "/v1/envelopes", []byte(`{"event_type":"x"}`))
		problem(t, "bad envelope", bad, 400, errcode.InputMissingField)
		if f := cp.For(corr3); len(f) != 3 || f[2].Str("outcome") != api.OutcomeFailed || f[2].JSON["status"] != float64(400) {
			t.Errorf("failure hooks %+v", f)
		}
		// A streamed bundle's result hook follows its last byte.
		b, corr4 := x.send("POST", "/v1/bundles/build", []byte(`{"selector":{"all":true}}`))
		want(t, "bundle", b, 200, `"record":"manifest"`)
		for deadline := time.Now().Add(10 * time.Second); len(cp.For(corr4)) < 3 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		}
		if f := cp.For(corr4); len(f) != 3 || f[2].Str("operation") != api.OpBundlesBuild || f[2].Str("outcome") != api.OutcomeSucceeded {
			t.Errorf("bundle hooks %+v", f)
		}
	})

	t.Run("502 then idempotent retry", func(t *testing.T) {
		before := x.envelopes()
		cp.SetHook(api.PhaseResult, enterprisetest.Failing)
		r, _ := x.send("POST", "/v1/envelopes", event(400), "Idempotency-Key: retry-1")
		p := problem(t, "result hook down", r, 502, errcode.EnterpriseHookFailed)
		receipts, _ := p["receipts"].([]any)
		if len(receipts) != 1 {
			t.Fatalf("502 without the receipt: %s", r.body)
		}
		receipt, _ := json.Marshal(receipts[0])
		// Still down: the same 502, the same receipt, nothing written.
		r2, _ := x.send("POST", "/v1/envelopes", event(400), "Idempotency-Key: retry-1")
		problem(t, "still down", r2, 502, errcode.EnterpriseHookFailed)
		if !bytes.Equal(r2.body[bytes.Index(r2.body, []byte(`"receipts"`)):], r.body[bytes.Index(r.body, []byte(`"receipts"`)):]) {
			t.Errorf("the second 502 names other evidence:\n%s\n%s", r.body, r2.body)
		}
		cp.SetHook(api.PhaseResult, enterprisetest.Delivered)
		ok, corr := x.send("POST", "/v1/envelopes", event(400), "Idempotency-Key: retry-1")
		want(t, "retry", ok, 201)
		var env struct{ Receipt json.RawMessage }
		json.Unmarshal(ok.body, &env)
		if ok.header.Get(api.HeaderIdempotencyReplayed) != api.HeaderTrue || !bytes.Equal(env.Receipt, receipt) {
			t.Errorf("retry: %s, receipt %s, want the stored answer with %s", ok.body, env.Receipt, receipt)
		}
		if h := cp.For(corr); len(h) != 3 || h[2].Str("outcome") != api.OutcomeReplayed {
			t.Errorf("retry hooks %+v", h)
		}
		if got := x.envelopes(); got != before+1 {
			t.Errorf("%d envelopes stored for one write (%d before)", got-before, before)
		}
		// A segment's 502 names the segment.
		cp.SetHook(api.PhaseResult, enterprisetest.Failing)
		s, _ := x.send("POST", "/v1/segments/seal", []byte(`{}`), "Idempotency-Key: seal-1")
		if sp := problem(t, "seal with the hook down", s, 502, errcode.EnterpriseHookFailed); sp["segment_id"] == nil || sp["receipts"] != nil {
			t.Errorf("seal 502: %s", s.body)
		}
		allowAll()
		hookFailures[api.PhaseResult] += 3
	})

	t.Run("probes while the control plane is down", func(t *testing.T) {
		probe := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
		get := func(path string) reply {
			t.Helper()
			resp, err := probe.Get(x.p.base + path)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return reply{resp.StatusCode, resp.Header, b}
		}
		until := func(what string) {
			t.Helper()
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if r := get("/ready"); strings.Contains(string(r.body), what) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("/ready never answered %s", what)
				}
			}
		}
		until(`{"status":"ready"}`)
		cp.Stop()
		until(`"reasons":["control_plane_unavailable"]`)
		problem(t, "/ready while down", get("/ready"), 503, errcode.ServiceUnavailable)
		want(t, "health while down", get("/health"), 200, `{"status":"ok"}`)
		want(t, "startup while down", get("/startup"), 200, `{"status":"started"}`)
		r, _ := x.send("GET", "/metrics", nil)
		want(t, "metrics while down", r, 200)
		r, _ = x.send("POST", "/v1/envelopes", event(500))
		problem(t, "a write while down", r, 503, errcode.EnterpriseUnavailable)
		decisions[api.DecisionUnavailable]++
		cp.Restart(t)
		until(`{"status":"ready"}`)
		// A control plane that hangs: probes read the last poll and never
		// call it themselves.
		cp.SetReady(enterprisetest.Answer{Body: `{"status":"ready"}`, Delay: time.Minute})
		until(`"reasons":["control_plane_unavailable"]`)
		start, calls := time.Now(), cp.ReadyCalls()
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := get("/ready"); r.status != 503 {
					t.Errorf("/ready while hanging: %d %s", r.status, r.body)
				}
				if r := get("/health"); r.status != 200 {
					t.Errorf("/health while hanging: %d", r.status)
				}
			}()
		}
		wg.Wait()
		if n := cp.ReadyCalls() - calls; n > 2+int(time.Since(start)/time.Second) {
			t.Errorf("50 probes made %d readiness calls in %s", n, time.Since(start))
		}
		cp.SetReady(enterprisetest.Answer{Body: `{"status":"ready"}`})
		until(`{"status":"ready"}`)
	})

	t.Run("metrics and round trips", func(t *testing.T) {
		m, _ := x.send("GET", "/metrics", nil)
		x.mu.Lock()
		total := x.sent - identityRefused // every other request was decided
		x.mu.Unlock()
		decisions[api.DecisionAllow] = total
		for o, n := range decisions {
			if o != api.DecisionAllow {
				decisions[api.DecisionAllow] -= n
			}
		}
		for _, o := range api.Vocabulary().Decisions {
			if got, want := metric(m.body, `arxi_sidecar_enterprise_decisions_total{outcome="`+o+`"}`), float64(decisions[o]); got != want {
				t.Errorf("decisions %s = %v, want %v", o, got, want)
			}
		}
		if got := metric(m.body, "arxi_sidecar_enterprise_decision_duration_seconds_count"); got != float64(total) {
			t.Errorf("decision latency count %v, want %d", got, total)
		}
		for _, ph := range api.Vocabulary().Phases {
			if got := metric(m.body, `arxi_sidecar_enterprise_hook_failures_total{phase="`+ph+`"}`); got != float64(hookFailures[ph]) {
				t.Errorf("hook failures %s = %v, want %d", ph, got, hookFailures[ph])
			}
		}
		// One authorize call per request, no more: the gate's one round
		// trip (two requests met the control plane stopped).
		if got := len(cp.Calls(api.PathAuthorize)); got != total-2 {
			t.Errorf("%d authorize calls for %d requests", got, total-2)
		}
	})
	x.noSecrets()
}

// TestEnterpriseWriterLease: with require_writer_lease, a mutating request
// without x-arxi-writer-lease: true is 409 before the control plane is
// asked; reads need no lease; with readiness_mode storage_only, /ready
// ignores the control plane.
func TestEnterpriseWriterLease(t *testing.T) {
	t.Parallel()
	x := startEnterprise(t, map[string]string{"enterprise": "require_writer_lease = true"})
	lease := api.HeaderWriterLease + ": " + api.HeaderTrue
	conns := x.cp.Conns()
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"no lease", nil, 409},
		{"false", []string{api.HeaderWriterLease + ": false"}, 409},
		{"True", []string{api.HeaderWriterLease + ": True"}, 409},
		{"twice", []string{lease, lease}, 409},
		{"lease", []string{lease}, 201},
	} {
		r, corr := x.send("POST", "/v1/envelopes", event(0), tc.headers...)
		if tc.status == 409 {
			if p := problem(t, tc.name, r, 409, errcode.EnterpriseWriterLease); p["field"] != "x-arxi-writer-lease" {
				t.Errorf("%s: %s", tc.name, r.body)
			}
			if n := len(x.cp.For(corr)); n != 0 {
				t.Errorf("%s: %d control-plane calls", tc.name, n)
			}
			continue
		}
		want(t, tc.name, r, tc.status)
	}
	for _, path := range []string{"/v1/segments", "/v1/segments/active", "/v1/config"} {
		r, _ := x.send("GET", path, nil)
		want(t, path+" without a lease", r, 200)
	}
	r, _ := x.send("POST", "/v1/segments/seal", []byte(`{}`))
	problem(t, "seal without a lease", r, 409, errcode.EnterpriseWriterLease)
	// Sequential requests reuse one connection to the control plane.
	if calls, n := len(x.cp.Calls("")), x.cp.Conns()-conns; calls != 12 || n != 1 {
		t.Errorf("%d control-plane calls on %d new connections, want 12 on 1", calls, n)
	}
	x.cp.Stop()
	for _, path := range []string{"/health", "/startup", "/ready"} {
		want(t, path+" with the control plane down (storage_only)", x.p.do("GET", path, nil), 200)
	}
	x.noSecrets()
}
