// Package config is the sidecar's configuration (SIDECAR.md §1): typed
// sections of a TOML file, every key checked, and the rules that refuse an
// unsafe combination, all before the sidecar binds a listener.
//
// # Rules as data
//
// Each key's rules are struct tags on its field, read by one validator:
//
//	toml     the key's name
//	default  its value when absent
//	enum     the values allowed, separated by |
//	min, max the range of an integer or a duration
//	required "true" when the key must be given (conditional requirements,
//	         such as auth.token_file with auth.mode = "token", are rules of
//	         Config.check)
//	kind     "path" for a file path (relative to the config file's
//	         directory), "secret" for the path of a file holding a secret
//	doc      one line for the example and the docs
//
// so that the same tags can be emitted as a JSON Schema. Combinations that
// tags cannot say (open auth on a non-loopback host, a token file others
// may read) are in Config.check.
//
// # Errors
//
// Every error is config.invalid naming the key ("limits.max_in_flight"),
// and the file when it has one.
package config

import (
	"time"
)

// SchemaVersion is the only schema_version of this configuration.
const SchemaVersion = 1

// APIVersion is the only api_version.
const APIVersion = "v1"

// Limits the configuration cannot raise.
const (
	MaxHeaderBytesCap = 65536 // SIDECAR.md §1: max_header_bytes hard cap
	MaxConfigFile     = 1 << 20
	MinTokenBytes     = 32
	MaxTokenBytes     = 4096
)

// Config is the whole configuration.
type Config struct {
	SchemaVersion int    `toml:"schema_version" required:"true" enum:"1" doc:"configuration schema version; 1"`
	APIVersion    string `toml:"api_version" required:"true" enum:"v1" doc:"HTTP API version served; v1"`

	Transport   Transport   `toml:"transport"`
	Auth        Auth        `toml:"auth"`
	Store       Store       `toml:"store"`
	Recorder    Recorder    `toml:"recorder"`
	Limits      Limits      `toml:"limits"`
	Idempotency Idempotency `toml:"idempotency"`
	Probes      Probes      `toml:"probes"`
	Metrics     Metrics     `toml:"metrics"`
	Verify      Verify      `toml:"verify"`
	Log         Log         `toml:"log"`
	Enterprise  Enterprise  `toml:"enterprise"`

	// Loaded by Load once the keys are valid.
	token     []byte
	cpToken   []byte
	resources Resources
}

// Transport is where the sidecar listens.
type Transport struct {
	Mode       string `toml:"mode" default:"unix" enum:"unix|tcp" doc:"listen on a Unix socket or on TCP"`
	UnixSocket string `toml:"unix_socket" kind:"path" doc:"with mode unix: the socket, created 0660; a stale socket is removed only if nothing answers on it"`
	Host       string `toml:"host" default:"127.0.0.1" doc:"with mode tcp: an IP address; a non-loopback host requires auth.mode = \"token\""`
	Port       int    `toml:"port" default:"7337" min:"0" max:"65535" doc:"with mode tcp: the port; 0 for any free port (the log names it)"`
}

// Auth is how requests authenticate.
type Auth struct {
	Mode      string `toml:"mode" default:"token" enum:"token|open" doc:"bearer token, or open (only on a Unix socket or a loopback host)"`
	TokenFile string `toml:"token_file" kind:"secret" doc:"with mode token: a regular file, mode 0600 or stricter, owned by the sidecar's user, holding one token of at least 32 characters"`
}

// Store is where evidence is kept.
type Store struct {
	Backend     string `toml:"backend" default:"sqlite" enum:"sqlite|postgres|memory" doc:"sqlite (durable, one file), postgres (durable, a log of a PostgreSQL database) or memory (ephemeral: everything is lost when the sidecar stops)"`
	Path        string `toml:"path" kind:"path" doc:"with backend sqlite: the store file (its directory must exist)"`
	URL         string `toml:"url" kind:"url" doc:"with backend postgres: postgres://USER@HOST:PORT/DB?log=NAME (SPEC §8.1); the password comes from PGPASSWORD or ~/.pgpass, never from here"`
	VerifyDepth int    `toml:"verify_depth" default:"1000" min:"1" max:"100000000" doc:"on start, re-verify the open segment's last N envelopes against the stored head"`
}

// Recorder is how envelopes are sealed.
type Recorder struct {
	RecorderID         string   `toml:"recorder_id" required:"true" doc:"the recorder's identity in every genesis (SPEC §2 identifier rules)"`
	MaxEnvelopes       int      `toml:"max_envelopes" default:"100000" min:"1" max:"100000" doc:"seal a segment after this many envelopes (auto_count); at most the verifier's per-segment limit"`
	MaxDuration        Duration `toml:"max_duration" min:"1ms" max:"87600h" doc:"seal a segment before an envelope claimed this long after its creation (auto_duration, event time); absent for no limit"`
	SignKey            string   `toml:"sign_key" kind:"secret" doc:"sign every envelope and every seal (its checkpoint, SPEC §11.2) with this PKCS#8 PEM Ed25519 key; absent for unsigned evidence; in profile secure a regular file, mode 0600 or stricter, owned by the sidecar's user"`
	SignPassphraseFile string   `toml:"sign_passphrase_file" kind:"secret" doc:"the passphrase of an encrypted sign_key; in profile secure a regular file, mode 0600 or stricter, owned by the sidecar's user"`
	Profile            string   `toml:"profile" default:"secure" enum:"secure|dev" doc:"secure requires an encrypted key in files of the sidecar's user that others cannot read; dev allows a plain key and lifts those file rules"`
	SealOnShutdown     bool     `toml:"seal_on_shutdown" default:"false" doc:"seal the open segment (reason shutdown) when the sidecar stops"`
}

// Limits bound every request.
type Limits struct {
	MaxHeaderBytes  int      `toml:"max_header_bytes" default:"16384" min:"1024" max:"65536" doc:"aggregate bytes of a request's line and headers"`
	MaxBodyBytes    int      `toml:"max_body_bytes" default:"4194304" min:"1" max:"1073741824" doc:"bytes of a request body, declared or actual"`
	MaxInFlight     int      `toml:"max_in_flight" default:"64" min:"1" max:"65536" doc:"requests handled at once (probes and /metrics not counted)"`
	QueueDepth      int      `toml:"queue_depth" default:"256" min:"1" max:"1048576" doc:"requests waiting for a slot; beyond it, 503 admission.saturated with Retry-After"`
	RequestTimeout  Duration `toml:"request_timeout" default:"10s" min:"1ms" max:"1h" doc:"a request's whole life: waiting, reading its body, the work, writing the response"`
	ShutdownTimeout Duration `toml:"shutdown_timeout" default:"30s" min:"1ms" max:"1h" doc:"on SIGTERM or SIGINT, how long in-flight requests may take to finish"`
}

// Idempotency bounds the stored idempotency records.
type Idempotency struct {
	TTL        Duration `toml:"ttl" default:"24h" min:"1s" max:"8760h" doc:"how long a key's response is replayed"`
	MaxEntries int      `toml:"max_entries" default:"100000" min:"1" max:"100000000" doc:"how many records are kept at most (the oldest go first)"`
}

// Probes configure /ready.
type Probes struct {
	ReadinessMode                  string `toml:"readiness_mode" default:"storage_only" enum:"storage_only|storage_and_enterprise" doc:"what /ready checks; storage_and_enterprise also the control plane's readiness, and needs enterprise.mode = \"enforce\""`
	ReadyFailOnAdmissionSaturation bool   `toml:"ready_fail_on_admission_saturation" default:"false" doc:"answer /ready with 503 while the admission queue is full"`
}

// Metrics configure /metrics.
type Metrics struct {
	Enabled bool `toml:"enabled" default:"true" doc:"serve GET /metrics (Prometheus text format); on TCP behind the token"`
}

// Verify configures POST /v1/bundles/verify.
type Verify struct {
	TrustRoot string `toml:"trust_root" kind:"path" doc:"the trust root bundles are verified against (SPEC §11); absent: phase 6 is skipped with warning signature_skipped"`
}

// Log configures the log on stderr.
type Log struct {
	Level  string `toml:"level" default:"info" enum:"debug|info|warn|error" doc:"the least severe level logged; debug logs every request"`
	Format string `toml:"format" default:"json" enum:"json|text" doc:"one JSON object per line, or logfmt-like text"`
}

// Enterprise is the control-plane bridge (SIDECAR.md §4): an external
// control plane admits every operation and is told what was done.
type Enterprise struct {
	Mode                  string   `toml:"mode" default:"off" enum:"off|enforce" doc:"off, or enforce: every request carries an identity and runs only on the control plane's explicit allow; needs auth.mode = \"token\""`
	ControlPlaneURL       string   `toml:"control_plane_url" doc:"with mode enforce: the control plane's base URL; https, or http to a loopback IP address only; no credentials, query or fragment"`
	ControlPlaneTokenFile string   `toml:"control_plane_token_file" kind:"secret" doc:"with mode enforce: the bearer token sent to the control plane, under the rules of auth.token_file, and not the sidecar's own token"`
	RequireWriterLease    bool     `toml:"require_writer_lease" default:"false" doc:"with mode enforce: mutating requests need x-arxi-writer-lease: true (409 enterprise.writer_lease_required)"`
	DecisionTimeout       Duration `toml:"decision_timeout" default:"2s" min:"1ms" max:"1m" doc:"with mode enforce: the bound of each control-plane call (decision, hook, readiness); below limits.request_timeout"`
}

// Duration is a TOML string such as "10s" or "24h" (Go duration syntax).
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// String formats the duration, "0s" for zero.
func (d Duration) String() string { return d.Duration.String() }
