package config

// Example is a commented configuration that validates as it is, in any
// directory: a Unix socket beside the file, open auth (allowed on a Unix
// socket), a SQLite store beside the file. The comments show every other
// key with its default.
const Example = `# arxi-sidecar configuration (SIDECAR.md §1). Relative paths are relative
# to this file's directory. Check it with: arxi-sidecar config validate --config FILE
schema_version = 1
api_version = "v1"

[transport]
mode = "unix"                  # unix | tcp
unix_socket = "arxi.sock"      # created 0660; a stale socket is removed only if nothing answers
# host = "127.0.0.1"           # tcp: an IP address; a non-loopback host needs auth.mode = "token"
# port = 7337                  # tcp

[auth]
mode = "open"                  # token | open (open only on a Unix socket or a loopback host)
# token_file = "/etc/arxi/token"   # token: a regular file, mode 0600 or stricter, owned by
                                   # the sidecar's user, one token of at least 32 characters

[store]
backend = "sqlite"             # sqlite | postgres | memory (ephemeral: lost when the sidecar stops)
path = "arxi.db"               # sqlite: the store file; its directory must exist
# url = "postgres://arxi@db.internal/arxi?log=sidecar-1"  # postgres: the log (password: PGPASSWORD or ~/.pgpass)
verify_depth = 1000            # on start, re-verify the open segment's last N envelopes

[recorder]
recorder_id = "sidecar-1"      # the recorder's identity in every genesis
max_envelopes = 100000         # auto-seal after N envelopes (1 to 100000)
# max_duration = "1h"          # auto-seal on event time; absent: no limit
# sign_key = "/etc/arxi/key.pem"           # sign every envelope and seal (PKCS#8 PEM Ed25519)
# sign_passphrase_file = "/etc/arxi/key.pass"  # the encrypted key's passphrase
profile = "secure"             # secure | dev (dev allows a plain key and readable key files)
seal_on_shutdown = false       # seal the open segment (reason shutdown) on SIGTERM/SIGINT

[limits]
max_header_bytes = 16384       # request line and headers; at most 65536
max_body_bytes = 4194304       # request body, declared or actual
max_in_flight = 64             # requests handled at once (probes and /metrics not counted)
queue_depth = 256              # requests waiting for a slot; beyond: 503 admission.saturated
request_timeout = "10s"        # a request's whole life
shutdown_timeout = "30s"       # how long in-flight requests may take to finish on shutdown

[idempotency]
ttl = "24h"                    # how long a key's response is replayed
max_entries = 100000           # records kept at most; the oldest go first

[probes]
readiness_mode = "storage_only"            # storage_only | storage_and_enterprise (enterprise enforce only)
ready_fail_on_admission_saturation = false # /ready answers 503 while the queue is full

[metrics]
enabled = true                 # GET /metrics; on TCP behind the token

[verify]
# trust_root = "/etc/arxi/root.json"   # POST /v1/bundles/verify checks signatures against it

[log]
level = "info"                 # debug | info | warn | error (debug logs every request)
format = "json"                # json | text

[enterprise]
mode = "off"                   # off | enforce: a control plane admits every request (needs auth.mode = "token")
# control_plane_url = "https://cp.internal:8443"   # https, or http to a loopback IP address only
# control_plane_token_file = "/etc/arxi/cp-token"  # the rules of auth.token_file; not the sidecar's token
# require_writer_lease = false # mutating requests need x-arxi-writer-lease: true
# decision_timeout = "2s"      # each control-plane call; below limits.request_timeout
`
