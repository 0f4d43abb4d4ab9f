package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
)

const base = `schema_version = 1
api_version = "v1"
[transport]
mode = "unix"
unix_socket = "s.sock"
[auth]
mode = "open"
[store]
path = "arxi.db"
[recorder]
recorder_id = "sidecar-1"
`

const (
	token   = "0123456789abcdefghijklmnopqrstuvwxyzABCD"
	cpToken = "control-plane-0123456789abcdefghijklmnopqrstuvwxyz"
)

// dir returns a directory with a good token file and a token file others
// may read.
func dir(t *testing.T) string {
	d := t.TempDir()
	for name, c := range map[string]struct {
		data string
		mode os.FileMode
	}{
		"token": {token + "\n", 0o600}, "token.loose": {token, 0o640}, "token.short": {"short-token", 0o600},
		"token.bad": {"0123456789 abcdefghijklmnopqrstuvwxyz", 0o600}, "token.padded": {token + "==", 0o400},
		"cp-token": {cpToken + "\n", 0o600}, "cp-token.loose": {cpToken, 0o644},
	} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(c.data), c.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(d, name), c.mode)
	}
	os.Mkdir(filepath.Join(d, "sub"), 0o755)
	return d
}

// enterprise is a valid enforce configuration on token auth; a key of kv
// replaces the one of the same name.
func enterprise(kv string) string {
	keys := map[string]string{"mode": `"enforce"`, "control_plane_url": `"http://127.0.0.1:9000"`, "control_plane_token_file": `"cp-token"`}
	order := []string{"mode", "control_plane_url", "control_plane_token_file"}
	if k, v, ok := strings.Cut(kv, " = "); ok {
		if _, seen := keys[k]; !seen {
			order = append(order, k)
		}
		keys[k] = v
	}
	var b strings.Builder
	b.WriteString(strings.Replace(base, `mode = "open"`, "mode = \"token\"\ntoken_file = \"token\"", 1))
	b.WriteString("[enterprise]\n")
	for _, k := range order {
		if keys[k] != `""` {
			b.WriteString(k + " = " + keys[k] + "\n")
		}
	}
	return b.String()
}

// TestValidate: each bad configuration is config.invalid naming its key.
func TestValidate(t *testing.T) {
	d := dir(t)
	set := func(section, kv string) string {
		switch {
		case section == "":
			return kv + "\n" + base
		case !strings.Contains(base, "["+section+"]\n"):
			return base + "[" + section + "]\n" + kv + "\n"
		}
		return strings.Replace(base, "["+section+"]\n", "["+section+"]\n"+kv+"\n", 1)
	}
	for _, tc := range []struct {
		name, toml, field string
	}{
		{"valid", base, ""},
		{"tcp loopback open", strings.Replace(base, "mode = \"unix\"\nunix_socket = \"s.sock\"", "mode = \"tcp\"\nhost = \"127.0.0.1\"\nport = 8080", 1), ""},
		{"tcp v6 loopback", strings.Replace(base, "mode = \"unix\"\nunix_socket = \"s.sock\"", "mode = \"tcp\"\nhost = \"::1\"", 1), ""},
		{"token", strings.Replace(base, `mode = "open"`, `mode = "token"`+"\ntoken_file = \"token\"", 1), ""},
		{"padded token", strings.Replace(base, `mode = "open"`, `mode = "token"`+"\ntoken_file = \"token.padded\"", 1), ""},
		{"memory", strings.Replace(base, `path = "arxi.db"`, `backend = "memory"`, 1), ""},
		{"all durations", set("limits", `request_timeout = "1m"`+"\nshutdown_timeout = \"5s\""), ""},
		{"max duration", set("recorder", `max_duration = "30m"`), ""},

		{"unknown top-level key", set("", "color = 1"), "color"},
		{"unknown section", base + "[cloud]\nmode = \"enforce\"\n", "cloud"},
		{"unknown key", set("limits", "max_flights = 3"), "limits.max_flights"},
		{"wrong type", set("limits", `max_in_flight = "64"`), "limits.max_in_flight"},
		{"wrong type bool", set("metrics", `enabled = "yes"`), "metrics.enabled"},
		{"bad duration", set("limits", `request_timeout = "10"`), "limits.request_timeout"},
		{"duplicate key", set("recorder", `recorder_id = "x"`), "recorder.recorder_id"},
		{"syntax", base + "[limits\n", "recorder"}, // the last key before the error, and its line
		{"missing schema_version", strings.Replace(base, "schema_version = 1\n", "", 1), "schema_version"},
		{"schema_version 2", strings.Replace(base, "schema_version = 1", "schema_version = 2", 1), "schema_version"},
		{"api_version", strings.Replace(base, `api_version = "v1"`, `api_version = "v2"`, 1), "api_version"},
		{"mode", strings.Replace(base, `mode = "unix"`, `mode = "udp"`, 1), "transport.mode"},
		{"no socket", strings.Replace(base, `unix_socket = "s.sock"`, "", 1), "transport.unix_socket"},
		{"socket dir missing", strings.Replace(base, `"s.sock"`, `"nodir/s.sock"`, 1), "transport.unix_socket"},
		{"socket is a file", strings.Replace(base, `"s.sock"`, `"token"`, 1), "transport.unix_socket"},
		{"socket too long", strings.Replace(base, `"s.sock"`, `"`+strings.Repeat("x", 120)+`"`, 1), "transport.unix_socket"},
		{"port with unix", set("transport", "port = 1"), "transport.port"},
		{"port negative", strings.Replace(base, "mode = \"unix\"\nunix_socket = \"s.sock\"", "mode = \"tcp\"\nport = -1", 1), "transport.port"},
		{"port too big", strings.Replace(base, "mode = \"unix\"\nunix_socket = \"s.sock\"", "mode = \"tcp\"\nport = 70000", 1), "transport.port"},
		{"host not an IP", strings.Replace(base, "mode = \"unix\"\nunix_socket = \"s.sock\"", "mode = \"tcp\"\nhost = \"localhost\"", 1), "transport.host"},
		{"open on a public host", strings.Replace(base, "mode = \"unix\"\nunix_socket = \"s.sock\"", "mode = \"tcp\"\nhost = \"0.0.0.0\"", 1), "auth.mode"},
		{"socket with tcp", strings.Replace(base, "mode = \"unix\"\n", "mode = \"tcp\"\n", 1), "transport.unix_socket"},
		{"token without file", strings.Replace(base, `mode = "open"`, `mode = "token"`, 1), "auth.token_file"},
		{"token file with open", set("auth", `token_file = "token"`), "auth.token_file"},
		{"token file missing", strings.Replace(base, `mode = "open"`, `mode = "token"`+"\ntoken_file = \"nope\"", 1), "auth.token_file"},
		{"token file readable", strings.Replace(base, `mode = "open"`, `mode = "token"`+"\ntoken_file = \"token.loose\"", 1), "auth.token_file"},
		{"token short", strings.Replace(base, `mode = "open"`, `mode = "token"`+"\ntoken_file = \"token.short\"", 1), "auth.token_file"},
		{"token characters", strings.Replace(base, `mode = "open"`, `mode = "token"`+"\ntoken_file = \"token.bad\"", 1), "auth.token_file"},
		{"token file a directory", strings.Replace(base, `mode = "open"`, `mode = "token"`+"\ntoken_file = \"sub\"", 1), "auth.token_file"},
		{"backend", set("store", `backend = "mysql"`), "store.backend"},
		{"postgres without url", set("store", `backend = "postgres"`), "store.url"},
		{"postgres with a path", set("store", `backend = "postgres"`+"\nurl = \"postgres://arxi@db/arxi?log=s1\""), "store.path"},
		{"postgres url with a password", strings.Replace(base, `path = "arxi.db"`, `backend = "postgres"`+"\nurl = \"postgres://arxi:hunter2@db/arxi\"", 1), "store.url"},
		{"url with sqlite", set("store", `url = "postgres://arxi@db/arxi"`), "store.url"},
		{"no store path", strings.Replace(base, `path = "arxi.db"`, "", 1), "store.path"},
		{"store dir missing", strings.Replace(base, `"arxi.db"`, `"nodir/arxi.db"`, 1), "store.path"},
		{"store is a directory", strings.Replace(base, `"arxi.db"`, `"sub"`, 1), "store.path"},
		{"memory with path", set("store", `backend = "memory"`), "store.path"},
		{"verify depth", set("store", "verify_depth = 0"), "store.verify_depth"},
		{"no recorder", strings.Replace(base, `recorder_id = "sidecar-1"`, "", 1), "recorder.recorder_id"},
		{"recorder blank", strings.Replace(base, `recorder_id = "sidecar-1"`, `recorder_id = " "`, 1), "recorder.recorder_id"},
		{"max envelopes zero", set("recorder", "max_envelopes = 0"), "recorder.max_envelopes"},
		{"max envelopes above the verifier's", set("recorder", "max_envelopes = 100001"), "recorder.max_envelopes"},
		{"max duration zero", set("recorder", `max_duration = "0s"`), "recorder.max_duration"},
		{"max duration negative", set("recorder", `max_duration = "-1h"`), "recorder.max_duration"},
		{"profile", set("recorder", `profile = "lax"`), "recorder.profile"},
		{"passphrase without key", set("recorder", `sign_passphrase_file = "token"`), "recorder.sign_passphrase_file"},
		{"key without passphrase", set("recorder", `sign_key = "token"`), "recorder.sign_passphrase_file"},
		{"key missing", set("recorder", `sign_key = "nope"`+"\nprofile = \"dev\""), "recorder.sign_key"},
		{"key malformed", set("recorder", `sign_key = "token"`+"\nprofile = \"dev\""), "recorder.sign_key"},
		{"header bytes over the cap", set("limits", "max_header_bytes = 65537"), "limits.max_header_bytes"},
		{"header bytes zero", set("limits", "max_header_bytes = 0"), "limits.max_header_bytes"},
		{"body zero", set("limits", "max_body_bytes = 0"), "limits.max_body_bytes"},
		{"body negative", set("limits", "max_body_bytes = -5"), "limits.max_body_bytes"},
		{"in flight zero", set("limits", "max_in_flight = 0"), "limits.max_in_flight"},
		{"queue zero", set("limits", "queue_depth = 0"), "limits.queue_depth"},
		{"timeout zero", set("limits", `request_timeout = "0s"`), "limits.request_timeout"},
		{"shutdown negative", set("limits", `shutdown_timeout = "-1s"`), "limits.shutdown_timeout"},
		{"ttl zero", set("idempotency", "ttl = \"0s\""), "idempotency.ttl"},
		{"entries zero", set("idempotency", "max_entries = 0"), "idempotency.max_entries"},
		{"enterprise readiness without enterprise", set("probes", "readiness_mode = \"storage_and_enterprise\""), "probes.readiness_mode"},
		{"enterprise off", set("enterprise", `mode = "off"`), ""},
		{"enterprise mode", set("enterprise", `mode = "audit"`), "enterprise.mode"},
		{"enterprise url with off", set("enterprise", `control_plane_url = "https://cp.example"`), "enterprise.control_plane_url"},
		{"enterprise token with off", set("enterprise", `control_plane_token_file = "cp-token"`), "enterprise.control_plane_token_file"},
		{"enterprise lease with off", set("enterprise", `require_writer_lease = true`), "enterprise.require_writer_lease"},
		{"enterprise timeout with off", set("enterprise", `decision_timeout = "1s"`), "enterprise.decision_timeout"},
		{"enforce", enterprise(""), ""},
		{"enforce https", enterprise(`control_plane_url = "https://cp.internal:8443/api"`), ""},
		{"enforce v6 loopback", enterprise(`control_plane_url = "http://[::1]:9000"`), ""},
		{"enforce lease and readiness", enterprise("require_writer_lease = true") + "[probes]\nreadiness_mode = \"storage_and_enterprise\"\n", ""},
		{"enforce with open auth", strings.Replace(enterprise(""), "mode = \"token\"\ntoken_file = \"token\"", `mode = "open"`, 1), "enterprise.mode"},
		{"enforce without url", strings.Replace(enterprise(""), `control_plane_url = "http://127.0.0.1:9000"`, "", 1), "enterprise.control_plane_url"},
		{"enforce plain http", enterprise(`control_plane_url = "http://cp.internal:9000"`), "enterprise.control_plane_url"},
		{"enforce plain http to a name", enterprise(`control_plane_url = "http://localhost:9000"`), "enterprise.control_plane_url"},
		{"enforce plain http public", enterprise(`control_plane_url = "http://10.0.0.1"`), "enterprise.control_plane_url"},
		{"enforce scheme", enterprise(`control_plane_url = "ftp://127.0.0.1"`), "enterprise.control_plane_url"},
		{"enforce relative", enterprise(`control_plane_url = "/v1/cp"`), "enterprise.control_plane_url"},
		{"enforce credentials", enterprise(`control_plane_url = "https://u:p@cp.internal"`), "enterprise.control_plane_url"},
		{"enforce query", enterprise(`control_plane_url = "https://cp.internal/?token=x"`), "enterprise.control_plane_url"},
		{"enforce fragment", enterprise(`control_plane_url = "https://cp.internal/#x"`), "enterprise.control_plane_url"},
		{"enforce port", enterprise(`control_plane_url = "https://cp.internal:0"`), "enterprise.control_plane_url"},
		{"enforce not a URL", enterprise(`control_plane_url = "https://cp internal"`), "enterprise.control_plane_url"},
		{"enforce without token file", strings.Replace(enterprise(""), `control_plane_token_file = "cp-token"`, "", 1), "enterprise.control_plane_token_file"},
		{"enforce token file missing", enterprise(`control_plane_token_file = "nope"`), "enterprise.control_plane_token_file"},
		{"enforce token file readable", enterprise(`control_plane_token_file = "cp-token.loose"`), "enterprise.control_plane_token_file"},
		{"enforce token short", enterprise(`control_plane_token_file = "token.short"`), "enterprise.control_plane_token_file"},
		{"enforce token characters", enterprise(`control_plane_token_file = "token.bad"`), "enterprise.control_plane_token_file"},
		{"enforce token a directory", enterprise(`control_plane_token_file = "sub"`), "enterprise.control_plane_token_file"},
		{"enforce the sidecar's token", enterprise(`control_plane_token_file = "token"`), "enterprise.control_plane_token_file"},
		{"enforce timeout zero", enterprise(`decision_timeout = "0s"`), "enterprise.decision_timeout"},
		{"enforce timeout negative", enterprise(`decision_timeout = "-1s"`), "enterprise.decision_timeout"},
		{"enforce timeout not below the request's", enterprise(`decision_timeout = "10s"`), "enterprise.decision_timeout"},
		{"enforce timeout type", enterprise(`decision_timeout = 2`), "enterprise.decision_timeout"},
		{"readiness mode", set("probes", "readiness_mode = \"always\""), "probes.readiness_mode"},
		{"trust root missing", set("verify", "trust_root = \"nope.json\""), "verify.trust_root"},
		{"trust root malformed", set("verify", "trust_root = \"token\""), "verify.trust_root"},
		{"log level", set("log", "level = \"loud\""), "log.level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.toml), d)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Parse = %v, want a valid configuration", err)
				}
				if c.Limits.MaxInFlight != 64 || c.Idempotency.TTL.Hours() != 24 {
					t.Errorf("defaults not applied: %+v", c.Limits)
				}
				return
			}
			e, ok := errcode.As(err)
			if !ok || e.Code != errcode.ConfigInvalid || e.Field != tc.field {
				t.Fatalf("Parse = %v, want config.invalid naming %q", err, tc.field)
			}
			if strings.Contains(e.Error(), token) || strings.Contains(e.Error(), cpToken) {
				t.Errorf("the error shows a token: %v", e)
			}
		})
	}
}

// TestExample: the example validates in any directory and shows every
// key.
func TestExample(t *testing.T) {
	c, err := Parse([]byte(Example), t.TempDir())
	if err != nil {
		t.Fatalf("the example does not validate: %v", err)
	}
	if c.Store.Backend != "sqlite" || c.Auth.Mode != "open" {
		t.Errorf("example = %+v", c)
	}
	section := ""
	shown := map[string]bool{}
	for _, line := range strings.Split(Example, "\n") {
		if m := regexp.MustCompile(`^\[(\w+)\]$`).FindStringSubmatch(line); m != nil {
			section = m[1] + "."
		}
		if m := regexp.MustCompile(`^(?:# )?(\w+) = `).FindStringSubmatch(line); m != nil {
			shown[section+m[1]] = true
		}
	}
	for _, k := range Keys() {
		if !shown[k.Name] {
			t.Errorf("the example does not show %s", k.Name)
		}
		if k.Field.Tag.Get("doc") == "" {
			t.Errorf("%s has no doc tag", k.Name)
		}
	}
}

// TestEffective: every key with its effective value, secret files
// redacted, paths hidden on request.
func TestEffective(t *testing.T) {
	d := dir(t)
	c, err := Parse([]byte(strings.Replace(base, `mode = "open"`, `mode = "token"`+"\ntoken_file = \"token\"", 1)), d)
	if err != nil {
		t.Fatal(err)
	}
	got := string(c.Effective(false))
	for _, want := range []string{`"token_file":"[redacted]"`, `"path":"` + filepath.Join(d, "arxi.db") + `"`, `"max_duration":null`,
		`"request_timeout":"10s"`, `"max_in_flight":64`, `"seal_on_shutdown":false`, `"sign_key":null`, `"schema_version":1`} {
		if !strings.Contains(got, want) {
			t.Errorf("effective config lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, token) {
		t.Error("the effective config shows the token")
	}
	hidden := string(c.Effective(true))
	if strings.Contains(hidden, d) || !strings.Contains(hidden, `"unix_socket":"[redacted]"`) {
		t.Errorf("paths not hidden: %s", hidden)
	}
	if string(c.Token()) != token {
		t.Errorf("token = %q", c.Token())
	}
}

// TestEffectiveEnterprise: the control plane's token file is redacted
// like the sidecar's, its URL shown, and the token loaded.
func TestEffectiveEnterprise(t *testing.T) {
	c, err := Parse([]byte(enterprise("")), dir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, hide := range []bool{false, true} {
		got := string(c.Effective(hide))
		for _, want := range []string{`"enterprise":{"control_plane_token_file":"[redacted]","control_plane_url":"http://127.0.0.1:9000","decision_timeout":"2s","mode":"enforce","require_writer_lease":false}`} {
			if !strings.Contains(got, want) {
				t.Errorf("effective config lacks %s:\n%s", want, got)
			}
		}
		if strings.Contains(got, cpToken) || strings.Contains(got, "cp-token") {
			t.Errorf("the effective config shows the control plane's token or its file: %s", got)
		}
	}
	if string(c.ControlPlaneToken()) != cpToken || string(c.Token()) != token {
		t.Errorf("tokens = %q, %q", c.ControlPlaneToken(), c.Token())
	}
	off, err := Parse([]byte(base), dir(t))
	if err != nil || off.Enterprise.Mode != "off" || off.ControlPlaneToken() != nil {
		t.Errorf("default enterprise = %+v, %v", off.Enterprise, err)
	}
}

// TestLoad: a file's errors name it; a directory or oversized file is
// refused.
func TestLoad(t *testing.T) {
	d := dir(t)
	path := filepath.Join(d, "sidecar.toml")
	os.WriteFile(path, []byte(base+"[limits]\nmax_in_flight = 0\n"), 0o644)
	_, err := Load(path)
	if e, ok := errcode.As(err); !ok || e.Path != path || e.Field != "limits.max_in_flight" || !strings.Contains(e.Error(), "sidecar.toml: config.invalid: field \"limits.max_in_flight\"") {
		t.Errorf("Load = %v", err)
	}
	if _, err := Load(d); errcode.CodeOf(err) != errcode.ConfigInvalid {
		t.Errorf("a directory: %v", err)
	}
	big := filepath.Join(d, "big.toml")
	os.WriteFile(big, []byte(base+"# "+strings.Repeat("x", MaxConfigFile)+"\n"), 0o644)
	if _, err := Load(big); errcode.CodeOf(err) != errcode.ConfigInvalid {
		t.Errorf("an oversized file: %v", err)
	}
	os.WriteFile(path, []byte(base), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Transport.UnixSocket != filepath.Join(d, "s.sock") {
		t.Errorf("relative socket path resolved to %s", c.Transport.UnixSocket)
	}
}
