package enterprisetest

import (
	"net/http"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/sidecar/api"
)

// TestContractChecked: the control plane holds every call to
// control-plane.openapi.json: calls as the bridge makes them pass, and
// each call that breaks the contract is reported with why.
func TestContractChecked(t *testing.T) {
	const token = "test-control-plane-token-0123456789"
	cp := Start(t, token)
	authz := `{"authn_method":"oidc","correlation_id":"req-1","namespace_id":null,"operation":"envelopes.record","principal_id":"agent:a","tenant_id":"acme"}`
	admission := `{"correlation_id":"req-1","envelope_ids":[],"operation":"envelopes.record","outcome":"admitted","phase":"admission","principal_id":"agent:a","status":null,"tenant_id":"acme"}`
	result := `{"correlation_id":"req-1","envelope_ids":["019a8f6e-7c00-7000-8000-000000000001"],"operation":"envelopes.record","outcome":"succeeded","phase":"result","principal_id":"agent:a","status":201,"tenant_id":"acme"}`
	for _, tc := range []struct {
		name, method, path, body string
		broken                   string // "" : the call keeps the contract
	}{
		{"authorize", "POST", api.PathAuthorize, authz, ""},
		{"admission hook", "POST", api.PathHooks, admission, ""},
		{"result hook", "POST", api.PathHooks, result, ""},
		{"readiness", "GET", api.PathControlPlaneReady, "", ""},
		{"authorize without a tenant", "POST", api.PathAuthorize, strings.Replace(authz, `,"tenant_id":"acme"`, "", 1), "tenant_id"},
		{"authorize with a foreign key", "POST", api.PathAuthorize, strings.Replace(authz, `{`, `{"scope":"x",`, 1), "scope"},
		{"authorize for a probe", "POST", api.PathAuthorize, strings.Replace(authz, "envelopes.record", api.OpHealth, 1), "operation"},
		{"authorize with a blank tenant", "POST", api.PathAuthorize, strings.Replace(authz, `"acme"`, `" "`, 1), "tenant_id"},
		{"hook of another phase", "POST", api.PathHooks, strings.Replace(admission, `"admission"`, `"later"`, 1), "phase"},
		{"admission with a status", "POST", api.PathHooks, strings.Replace(admission, `"status":null`, `"status":200`, 1), "status"},
		{"result without a status", "POST", api.PathHooks, strings.Replace(result, `"status":201`, `"status":null`, 1), "status"},
		{"result with an envelope id that is no UUIDv7", "POST", api.PathHooks, strings.Replace(result, "019a8f6e", "xyz", 1), "envelope_ids"},
		{"a path the API lacks", "POST", "/v1/enterprise/sidecar/hook", admission, "/v1/enterprise/sidecar/hook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, cp.URL()+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Accept", api.MediaJSON)
			if tc.body != "" {
				req.Header.Set("Content-Type", api.MediaJSON)
			} else {
				req.Body = http.NoBody
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var whys []string
			for _, b := range cp.Broken() {
				why, _, _ := strings.Cut(b, BodySep)
				whys = append(whys, why)
			}
			broken := strings.Join(whys, "\n")
			switch {
			case tc.broken == "" && broken != "":
				t.Errorf("a call as the bridge makes it is reported: %s", broken)
			case tc.broken != "" && !strings.Contains(broken, tc.broken):
				t.Errorf("Broken = %q, want a report naming %q", broken, tc.broken)
			}
		})
	}
}
