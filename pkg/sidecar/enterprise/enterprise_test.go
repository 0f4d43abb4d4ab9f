package enterprise_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sidecar"
	"arxi.dev/arxi/pkg/sidecar/api"
	"arxi.dev/arxi/pkg/sidecar/config"
	"arxi.dev/arxi/pkg/sidecar/enterprise"
	"arxi.dev/arxi/pkg/sidecar/enterprise/enterprisetest"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestDecodeDecision: only an explicit allow with quota left allows; every
// other answer is refused or an error naming its path.
func TestDecodeDecision(t *testing.T) {
	for _, tc := range []struct {
		body, outcome, reason string
		remaining             int64
		field                 string // of an error
	}{
		{`{"decision":"allow"}`, api.DecisionAllow, "", -1, ""},
		{`{"decision":"allow","quota":{"remaining":3},"reason":"ok"}`, api.DecisionAllow, "ok", 3, ""},
		{` {"quota":null,"reason":null,"decision":"allow"} `, api.DecisionAllow, "", -1, ""},
		{`{"decision":"deny","reason":"no role"}`, api.DecisionDeny, "no role", -1, ""},
		{`{"decision":"deny","quota":{"remaining":5}}`, api.DecisionDeny, "", 5, ""},
		{`{"decision":"allow","quota":{"remaining":0}}`, api.DecisionQuotaExhausted, "", 0, ""},
		{`{"decision":"deny","quota":{"remaining":0}}`, api.DecisionQuotaExhausted, "", 0, ""},

		{`{}`, "", "", 0, "$.decision"},
		{`{"decision":"ALLOW"}`, "", "", 0, "$.decision"},
		{`{"decision":"maybe"}`, "", "", 0, "$.decision"},
		{`{"decision":true}`, "", "", 0, "$.decision"},
		{`{"decision":null}`, "", "", 0, "$.decision"},
		{`{"decision":"allow","extra":1}`, "", "", 0, "$"},
		{`{"decision":"allow","reason":7}`, "", "", 0, "$.reason"},
		{`{"decision":"allow","quota":7}`, "", "", 0, "$.quota"},
		{`{"decision":"allow","quota":{}}`, "", "", 0, "$.quota.remaining"},
		{`{"decision":"allow","quota":{"remaining":-1}}`, "", "", 0, "$.quota.remaining"},
		{`{"decision":"allow","quota":{"remaining":1.5}}`, "", "", 0, "$.quota.remaining"},
		{`{"decision":"allow","quota":{"remaining":"9"}}`, "", "", 0, "$.quota.remaining"},
		{`{"decision":"allow","quota":{"remaining":1,"limit":2}}`, "", "", 0, "$.quota"},
		{`{"decision":"allow","decision":"allow"}`, "", "", 0, ""},
		{`{"decision":"deny","decision":"allow"}`, "", "", 0, ""},
		{`["allow"]`, "", "", 0, "$"},
		{`"allow"`, "", "", 0, "$"},
		{`allow`, "", "", 0, ""},
		{``, "", "", 0, ""},
		{`{"decision":"allow"}{}`, "", "", 0, ""},
		{"{\"decision\":\"allow\",\"reason\":\"\xff\"}", "", "", 0, ""},
	} {
		d, err := enterprise.DecodeDecision([]byte(tc.body))
		if tc.outcome == "" {
			if err == nil {
				t.Errorf("DecodeDecision(%s) = %+v, want an error", tc.body, d)
				continue
			}
			if e, ok := errcode.As(err); tc.field != "" && (!ok || e.Field != tc.field) {
				t.Errorf("DecodeDecision(%s) = %v, want an error at %s", tc.body, err, tc.field)
			}
			continue
		}
		if err != nil || d.Outcome != tc.outcome || d.Reason != tc.reason || d.Remaining != tc.remaining {
			t.Errorf("DecodeDecision(%s) = %+v, %v, want %s %q %d", tc.body, d, err, tc.outcome, tc.reason, tc.remaining)
		}
	}
}

// FuzzDecodeDecision: no input panics, and an input is an allow only if it
// is a JSON object whose decision is "allow" and whose quota, if any, has
// some left: the gate never fails open on garbage.
func FuzzDecodeDecision(f *testing.F) {
	for _, s := range []string{`{"decision":"allow"}`, `{"decision":"deny","reason":"r"}`, `{"decision":"allow","quota":{"remaining":0}}`,
		`{"decision":"allow","quota":{"remaining":12}}`, `{"decision":"allow","quota":null}`, `{"decision":"allow","x":{}}`, `[]`, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := enterprise.DecodeDecision(b)
		if err != nil {
			return
		}
		var m struct {
			Decision string
			Quota    *struct{ Remaining *int64 }
		}
		if jerr := json.Unmarshal(b, &m); jerr != nil {
			t.Fatalf("DecodeDecision accepted %q, which encoding/json refuses: %v", b, jerr)
		}
		switch d.Outcome {
		case api.DecisionAllow:
			if m.Decision != "allow" || m.Quota != nil && (m.Quota.Remaining == nil || *m.Quota.Remaining == 0) {
				t.Fatalf("DecodeDecision(%q) allows", b)
			}
		case api.DecisionDeny, api.DecisionQuotaExhausted:
		default:
			t.Fatalf("DecodeDecision(%q) = outcome %q", b, d.Outcome)
		}
	})
}

// TestIdentityOf: every identity header is checked; errors name it and
// never repeat its value.
func TestIdentityOf(t *testing.T) {
	good := map[string][]string{api.HeaderTenantID: {"acme"}, api.HeaderPrincipalID: {"agent:alpha"}, api.HeaderAuthnMethod: {"oidc"}}
	with := func(name string, vs ...string) http.Header {
		h := http.Header{}
		for k, v := range good {
			h[k] = v
		}
		if vs == nil {
			delete(h, name)
		} else {
			h[name] = vs
		}
		return h
	}
	id, err := enterprise.IdentityOf(with(api.HeaderNamespaceID, "ns-1"))
	if err != nil || id.Tenant.String() != "acme" || id.Principal.String() != "agent:alpha" || id.AuthnMethod != "oidc" || id.Namespace.String() != "ns-1" {
		t.Fatalf("IdentityOf = %+v, %v", id, err)
	}
	if id, err := enterprise.IdentityOf(with(api.HeaderNamespaceID)); err != nil || !id.Namespace.IsZero() {
		t.Fatalf("without a namespace: %+v, %v", id, err)
	}
	for _, m := range api.Vocabulary().AuthnMethods {
		if _, err := enterprise.IdentityOf(with(api.HeaderAuthnMethod, m)); err != nil {
			t.Errorf("method %s: %v", m, err)
		}
	}
	if _, err := enterprise.IdentityOf(with(api.HeaderPrincipalID, "ünïcode principal")); err != nil {
		t.Errorf("a UTF-8 principal: %v", err)
	}
	for _, tc := range []struct {
		name string
		h    http.Header
		want string
	}{
		{"no tenant", with(api.HeaderTenantID), "x-tenant-id"},
		{"no principal", with(api.HeaderPrincipalID), "x-principal-id"},
		{"no method", with(api.HeaderAuthnMethod), "x-authn-method"},
		{"empty tenant", with(api.HeaderTenantID, ""), "x-tenant-id"},
		{"blank tenant", with(api.HeaderTenantID, "   "), "x-tenant-id"},
		{"tab in the tenant", with(api.HeaderTenantID, "ac\tme"), "x-tenant-id"},
		{"control character", with(api.HeaderPrincipalID, "a\x7fb"), "x-principal-id"},
		{"C1 control", with(api.HeaderPrincipalID, "a\u0085b"), "x-principal-id"},
		{"not UTF-8", with(api.HeaderPrincipalID, "a\xffb"), "x-principal-id"},
		{"257 bytes", with(api.HeaderPrincipalID, strings.Repeat("p", 257)), "x-principal-id"},
		{"two tenants", with(api.HeaderTenantID, "a", "b"), "x-tenant-id"},
		{"method unknown", with(api.HeaderAuthnMethod, "password"), "x-authn-method"},
		{"method case", with(api.HeaderAuthnMethod, "OIDC"), "x-authn-method"},
		{"two methods", with(api.HeaderAuthnMethod, "oidc", "mtls"), "x-authn-method"},
		{"bad namespace", with(api.HeaderNamespaceID, "n\x00s"), "x-namespace-id"},
		{"empty namespace", with(api.HeaderNamespaceID, ""), "x-namespace-id"},
	} {
		_, err := enterprise.IdentityOf(tc.h)
		e, ok := errcode.As(err)
		if !ok || e.Code != errcode.EnterpriseIdentity || e.Field != tc.want {
			t.Errorf("%s: IdentityOf = %v, want enterprise.identity_invalid naming %s", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(e.Msg, "ac\tme") || strings.Contains(e.Msg, "ppppp") {
			t.Errorf("%s: the error repeats the value: %v", tc.name, err)
		}
	}
	if got := len(strings.Repeat("p", 256)); got != scalar.MaxLabelLen {
		t.Fatalf("label limit %d", got)
	}
	if _, err := enterprise.IdentityOf(with(api.HeaderPrincipalID, strings.Repeat("p", 256))); err != nil {
		t.Errorf("256 bytes: %v", err)
	}
}

const (
	sidecarToken = "sidecar-token-0123456789abcdefghijklmnopqrstuvwxyz"
	cpToken      = "control-plane-token-0123456789abcdefghijklmnopqrstuvwxyz"
)

type gated struct {
	t      *testing.T
	client *http.Client
	cp     *enterprisetest.ControlPlane
}

// startGated runs the sidecar (sidecar.Run, as the daemon does) on a
// Unix socket over a memory store, in enforce mode against a test control
// plane; extra is TOML for the [enterprise] section.
func startGated(t *testing.T, extra string) *gated {
	t.Helper()
	cp := enterprisetest.Start(t, cpToken)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte(sidecarToken), 0o600)
	os.WriteFile(filepath.Join(dir, "cp-token"), []byte(cpToken), 0o600)
	cfg, err := config.Parse([]byte(`schema_version = 1
api_version = "v1"
[transport]
mode = "unix"
unix_socket = "s.sock"
[auth]
mode = "token"
token_file = "token"
[store]
backend = "memory"
[recorder]
recorder_id = "gate-test"
[enterprise]
mode = "enforce"
control_plane_url = "`+cp.URL()+`"
control_plane_token_file = "cp-token"
decision_timeout = "300ms"
`+extra), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- sidecar.Run(ctx, cfg, sidecar.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	sock := filepath.Join(dir, "s.sock")
	g := &gated{t: t, cp: cp, client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if r, err := g.client.Get("http://sidecar/startup"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return g
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the sidecar did not start")
		}
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

// do sends a request with the sidecar's token and a good identity, and
// the correlation id corr.
func (g *gated) do(method, path, corr, body string, headers ...string) answer {
	g.t.Helper()
	req, _ := http.NewRequest(method, "http://sidecar"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+sidecarToken)
	req.Header.Set(api.HeaderTenantID, "acme")
	req.Header.Set(api.HeaderPrincipalID, "agent:alpha")
	req.Header.Set(api.HeaderAuthnMethod, api.AuthnOIDC)
	req.Header.Set(api.HeaderCorrelationID, corr)
	if body != "" {
		req.Header.Set("Content-Type", api.MediaJSON)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// TestGateVocabulary: what the gate sends the control plane is the
// vocabulary's, member for member: the operation labels of the route
// table, the phases, the outcomes, the identity; one authorize call per
// request, then the admission hook, then the result hook with the
// envelope ids of the receipts; the result hook of a streamed bundle
// follows its last byte.
func TestGateVocabulary(t *testing.T) {
	g := startGated(t, "")
	v := api.Vocabulary()
	event := strings.TrimSuffix(storetest.Event(0), "\n")
	requests := []struct {
		method, path, body, ctype string
		status                    int
	}{
		{"POST", "/v1/segments", "{}", "", 201},
		{"POST", "/v1/envelopes", event, "", 201},
		{"POST", "/v1/envelopes/batch", storetest.Events(1, 4), api.MediaNDJSON, 201},
		{"GET", "/v1/segments/active", "", "", 200},
		{"POST", "/v1/query/envelopes", `{"filter":{}}`, "", 200},
		{"POST", "/v1/segments/seal", "{}", "", 200},
		{"POST", "/v1/bundles/build", `{"selector":{"all":true}}`, "", 200},
		{"GET", "/v1/segments", "", "", 200},
		{"GET", "/v1/config", "", "", 200},
		{"POST", "/v1/envelopes", "{", "", 400},
	}
	for i, rq := range requests {
		corr := "vocab-" + string(rune('a'+i))
		var hs []string
		if rq.ctype != "" {
			hs = append(hs, "Content-Type: "+rq.ctype)
		}
		a := g.do(rq.method, rq.path, corr, rq.body, hs...)
		if a.status != rq.status {
			t.Fatalf("%s %s: %d %s", rq.method, rq.path, a.status, a.body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		g.cp.WaitCalls(ctx, "", 3*(i+1))
		cancel()
		calls := g.cp.For(corr)
		if len(calls) != 3 || calls[0].Path != api.PathAuthorize || calls[1].Str("phase") != api.PhaseAdmission || calls[2].Str("phase") != api.PhaseResult {
			t.Fatalf("%s %s: control-plane calls %+v", rq.method, rq.path, calls)
		}
		auth, adm, res := calls[0], calls[1], calls[2]
		op := auth.Str("operation")
		if !slices.Contains(v.Operations, op) || adm.Str("operation") != op || res.Str("operation") != op {
			t.Errorf("%s %s: operations %q %q %q", rq.method, rq.path, op, adm.Str("operation"), res.Str("operation"))
		}
		if auth.Str("tenant_id") != "acme" || auth.Str("principal_id") != "agent:alpha" || auth.Str("authn_method") != api.AuthnOIDC ||
			auth.JSON["namespace_id"] != nil || auth.Str("correlation_id") != corr || len(auth.JSON) != 6 {
			t.Errorf("authorize body %s", auth.Body)
		}
		for _, h := range calls[1:] {
			if !slices.Contains(v.Phases, h.Str("phase")) || !slices.Contains(v.Outcomes, h.Str("outcome")) || len(h.JSON) != 8 ||
				h.Str("tenant_id") != "acme" || h.Str("principal_id") != "agent:alpha" {
				t.Errorf("hook body %s", h.Body)
			}
			if h.Authorization != "Bearer "+cpToken {
				t.Errorf("hook authorization %q", h.Authorization)
			}
		}
		if adm.Str("outcome") != api.OutcomeAdmitted || adm.JSON["status"] != nil || len(adm.JSON["envelope_ids"].([]any)) != 0 {
			t.Errorf("admission hook %s", adm.Body)
		}
		wantOutcome := api.OutcomeSucceeded
		if rq.status >= 400 {
			wantOutcome = api.OutcomeFailed
		}
		if res.Str("outcome") != wantOutcome || res.JSON["status"] != float64(rq.status) {
			t.Errorf("%s %s: result hook %s", rq.method, rq.path, res.Body)
		}
		ids, _ := res.JSON["envelope_ids"].([]any)
		if n := strings.Count(a.body, `"record":"receipt"`); len(ids) != n {
			t.Errorf("%s %s: %d envelope ids for %d receipts: %s", rq.method, rq.path, len(ids), n, res.Body)
		}
		for _, id := range ids {
			if !strings.Contains(a.body, `"envelope_id":"`+id.(string)+`"`) {
				t.Errorf("envelope id %v is not in the answer", id)
			}
		}
	}
	// Every route but the probes and /metrics went through the gate with
	// its own label.
	var ops []string
	for _, c := range g.cp.Calls(api.PathAuthorize) {
		ops = append(ops, c.Str("operation"))
	}
	for _, rt := range api.RouteTable() {
		if rt.Probe || rt.Metrics {
			continue
		}
		for _, rq := range requests {
			if rq.method == rt.Method && rq.path == rt.Path && !slices.Contains(ops, rt.Operation) {
				t.Errorf("%s %s was not authorized as %s", rt.Method, rt.Path, rt.Operation)
			}
		}
	}
}

// TestGateRefusals: the handler does not run on anything but an explicit
// allow; the bridge counts the decisions by outcome.
func TestGateRefusals(t *testing.T) {
	g := startGated(t, "require_writer_lease = true")
	event := strings.TrimSuffix(storetest.Event(0), "\n")
	lease := api.HeaderWriterLease + ": " + api.HeaderTrue
	for _, tc := range []struct {
		name   string
		answer enterprisetest.Answer
		status int
		code   errcode.Code
	}{
		{"deny", enterprisetest.Deny, 403, errcode.EnterpriseDenied},
		{"quota", enterprisetest.Quota, 429, errcode.EnterpriseQuota},
		{"slow", enterprisetest.Answer{Body: enterprisetest.Allow.Body, Delay: 2 * time.Second}, 503, errcode.EnterpriseUnavailable},
		{"garbage", enterprisetest.Answer{Body: "<html>"}, 503, errcode.EnterpriseUnavailable},
		{"status 500", enterprisetest.Answer{Status: 500, Body: enterprisetest.Allow.Body}, 503, errcode.EnterpriseUnavailable},
		{"allow", enterprisetest.Allow, 201, ""},
	} {
		g.cp.SetAuthorize(tc.answer)
		a := g.do("POST", "/v1/envelopes", "refusal-"+tc.name, event, lease, "Idempotency-Key: k-"+tc.name)
		if a.status != tc.status || tc.code != "" && !strings.Contains(a.body, `"code":"`+string(tc.code)+`"`) {
			t.Errorf("%s: %d %s", tc.name, a.status, a.body)
		}
		if calls := g.cp.For("refusal-" + tc.name); tc.code != "" && len(calls) != 1 {
			t.Errorf("%s: the handler ran: %d control-plane calls", tc.name, len(calls))
		}
	}
	g.cp.Reset()
	if a := g.do("POST", "/v1/envelopes", "no-lease", event); a.status != 409 || !strings.Contains(a.body, `"field":"x-arxi-writer-lease"`) {
		t.Errorf("without the lease: %d %s", a.status, a.body)
	}
	if a := g.do("GET", "/v1/segments", "read-no-lease", ""); a.status != 200 {
		t.Errorf("a read without the lease: %d %s", a.status, a.body)
	}
	if n := len(g.cp.For("no-lease")); n != 0 {
		t.Errorf("a request refused for its lease cost %d control-plane calls", n)
	}
	m := g.do("GET", "/metrics", "metrics", "")
	for outcome, n := range map[string]int{api.DecisionDeny: 1, api.DecisionQuotaExhausted: 1, api.DecisionUnavailable: 2, api.DecisionMalformed: 1, api.DecisionAllow: 2} {
		if line := `arxi_sidecar_enterprise_decisions_total{outcome="` + outcome + `"} ` + strconv.Itoa(n) + "\n"; !strings.Contains(m.body, line) {
			t.Errorf("metrics lack %s", line)
		}
	}
}
