# Arxi — developer targets. `make demo` runs the pipeline on the embedded
# demo data; `make test` is what CI runs.

GO      ?= go
SHELL   := /bin/bash
BIN     := $(CURDIR)/bin
CMDS    := $(notdir $(wildcard cmd/arxi-*))
DEMO    := $(CURDIR)/demo
FUZZTIME ?= 20s

.PHONY: all build test race check vet lint bench fuzz demo demo-sidecar clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

vet:
	$(GO) vet ./...

# test: every test of the module once, then the zstd codec's, the
# bundler's and the verifier's tests again in the pure-Go build
# (CGO_ENABLED=0: the pure-Go zstd codec, which must read the cgo codec's
# bundles and write bundles it reads; pkg/verify TestCodecsAgree), and the
# offline verifier built pure-Go, as an auditor may build it. The binaries'
# scripts are not run twice: in the pure-Go build every package that
# depends on net (most of the module and its test helpers) compiles again,
# which took four minutes of a cold run. race: every
# test under the race detector (which needs cgo). check: what CI runs, test,
# race and lint. go vet is part of lint.
#
# test runs without the race detector so that a cold run builds the module
# once: under it every binary a script runs is race-instrumented too, and
# the scripts' keygens, key opens and pipelines ran 10 times slower (a
# keygen 2.1 s against 0.17 s). The suite waits more than it computes
# (processes, servers, fsyncs), so test binaries run TESTP at a time.
#
# The tests' files (TMPDIR) go to a tmpfs when /dev/shm is one: an fsync
# there returns at once, and the stores' fsyncs (SQLite's and PostgreSQL's
# commits, thousands of them) were most of the suite's wall time on a
# disk. No test asserts what an fsync does: the crash tests kill with
# SIGKILL, which leaves the page cache as it was either way. The go
# command's own work files stay where they were (GOTMPDIR).
#
# test builds with TESTFLAGS, in GOFLAGS so that the go builds the tests
# run themselves (the container's binary, CGO_ENABLED=0; the binaries a
# pipeline test pipes together) and the pure-Go step build with them too:
# with -trimpath and Go's own resolver and user lookup (netgo, osusergo)
# every package but the cgo zstd codec compiles to the same objects with
# and without cgo, so the pure-Go builds reuse the suite's instead of
# compiling the module and the standard library a second time (a minute
# and a half of CPU on a cold cache). The suite's vet is off: go vet runs
# in lint, with every analyzer.
#
# On a cold cache compiling is most of test's time, so test compiles for
# speed (docs/testing.md). TESTFLAGS leaves debug information out of the
# test builds (-dwarf=false, -w): no test reads it and a panic's trace does
# not need it. TESTTOOLS sets, unless the environment does: the bundled C
# of the zstd codec at -O1 without debug information (the default -O2 -g
# took 65 s of CPU, -O1 28 s; the codec's output does not depend on it,
# and the golden bundle checks that), and GOGC=400 for the Go toolchain,
# which allocates heavily (the binaries' own setting, pkg/cli.GCPercent,
# so the binaries the scripts run see no change). A cold test on 2 cores
# took 3 min 9-19 s with all three, against 3 min 58 s-4 min 33 s.
TESTP ?= 4
TESTFLAGS := -trimpath -tags=netgo,osusergo -gcflags=all=-dwarf=false -ldflags=-w
TESTTOOLS := export CGO_CFLAGS="$${CGO_CFLAGS:--O1}" GOGC="$${GOGC:-400}"
PUREGO_PKGS := ./pkg/zstdio ./pkg/bundle ./pkg/verify
define testenv
set -e; gotmp="$${GOTMPDIR:-$${TMPDIR:-/tmp}}"; \
tmp=$$(mktemp -d /dev/shm/arxi-test.XXXXXX 2>/dev/null || mktemp -d); \
trap 'rm -rf "$$tmp"' EXIT; echo "test files in $$tmp"; \
export TMPDIR="$$tmp" GOTMPDIR="$$gotmp"
endef

test:
	@$(testenv); export GOFLAGS="$${GOFLAGS:+$$GOFLAGS }$(TESTFLAGS)"; $(TESTTOOLS); \
	echo "GOFLAGS='$$GOFLAGS' CGO_CFLAGS='$$CGO_CFLAGS' GOGC=$$GOGC $(GO) test -vet=off -count=1 -p $(TESTP) ./..."; \
	$(GO) test -vet=off -count=1 -p $(TESTP) ./...; \
	echo "CGO_ENABLED=0 $(GO) test -short -count=1 $(PUREGO_PKGS) && CGO_ENABLED=0 $(GO) build ./cmd/arxi-verify"; \
	CGO_ENABLED=0 $(GO) test -short -count=1 -p $(TESTP) $(PUREGO_PKGS); \
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/arxi-verify

race:
	@$(testenv); \
	echo "$(GO) test -race -count=1 -p $(TESTP) ./..."; \
	$(GO) test -race -count=1 -p $(TESTP) ./...

check: test race lint

lint: vet
	$(GO) tool staticcheck ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }

fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# bench: first the targets of issue 9 (internal/targets): the binaries on
# 100,000 events of 1 KiB, each iteration running a baseline measured in
# the same run (a plain SQLite insert of the same lines; sha256sum of the
# same bundle), medians of 5 iterations, reported as x-base (time over the
# baseline's) or speedup. Then throughput benchmarks on one core
# (GOMAXPROCS=1: b.Loop-free benchmarks honour -cpu, but the environment
# pins the whole process), the seal|append pipeline on two cores, signed
# verification on one and two cores, then the whole-binary runs (peak RSS,
# the million-envelope store) once each, and the sidecar's ingest under 64
# clients beside the seal|append pipeline measured in the same run. Printed
# as one table.
BENCH_PKGS ?= ./...
bench:
	@{ $(GO) test -run '^$$' -bench Targets -benchtime 5x ./internal/targets; \
	   GOMAXPROCS=1 $(GO) test -run '^$$' -bench . -skip 'RSS|Million|Pipeline|Ingest|Targets' -cpu 1 $(BENCH_PKGS); \
	   $(GO) test -run '^$$' -bench 'Pipeline' ./pkg/store/sqlite; \
	   $(GO) test -run '^$$' -bench 'VerifySigned$$' -benchtime 3x -cpu 1,2 ./pkg/verify; \
	   $(GO) test -run '^$$' -bench 'RSS|Million' -benchtime 1x $(BENCH_PKGS); \
	   $(GO) test -run '^$$' -bench 'Ingest' -benchtime 1x ./cmd/arxi-sidecar; } 2>&1 | $(GO) run ./internal/benchtab

# demo: the main job end to end on the embedded data, into a fresh local
# store: a signing key, enrolled as the store's first key, and a trust root
# that follows rotations; the demo agent events and a real Decision Gate
# runpack sealed (signed) and appended; a scheduled rotation to a second
# key, which signs an OpenClaw gateway capture; a trace queried; a bundle
# of two traces and the key lifecycle exported with zstd, inspected, and
# verified offline against the trust root; the whole lineage bundled and
# verified against the root of the first key.
DEMO_PASS := demo-passphrase-not-secret
demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo "== keygen: an encrypted Ed25519 key and its trust root"
	ARXI_SIGN_PASSPHRASE=$(DEMO_PASS) $(BIN)/arxi-seal keygen -o $(DEMO)/key.pem > $(DEMO)/key.json
	$(BIN)/arxi-verify trust-root --follow-rotations -o $(DEMO)/root.json $(DEMO)/key.json
	@cat $(DEMO)/root.json
	@echo "== arxi-seal enroll: the key becomes the store's first signing key (epoch 1)"
	set -o pipefail; ARXI_SIGN_PASSPHRASE=$(DEMO_PASS) $(BIN)/arxi-seal enroll --store $(DEMO)/arxi.db --sign-key $(DEMO)/key.pem \
	  --recorder-id demo-recorder --reason "first key" --claimed-at 2026-11-22T08:59:00Z \
	  | $(BIN)/arxi-append --store $(DEMO)/arxi.db > $(DEMO)/receipts.ndjson
	@echo "== seal | append: testdata/demo/events.ndjson into $(DEMO)/arxi.db"
	set -o pipefail; ARXI_SIGN_PASSPHRASE=$(DEMO_PASS) $(BIN)/arxi-seal --recorder-id demo-recorder --sign-key $(DEMO)/key.pem \
	  --store $(DEMO)/arxi.db --open --seal-at-end < testdata/demo/events.ndjson \
	  | $(BIN)/arxi-append --store $(DEMO)/arxi.db >> $(DEMO)/receipts.ndjson
	@echo "== arxi-dg | seal | append: the Decision Gate runpack testdata/dg/golden_visibility_packet"
	set -o pipefail; $(BIN)/arxi-dg --attach-artifacts --logical-epoch 2026-11-22T09:10:00Z testdata/dg/golden_visibility_packet \
	  | ARXI_SIGN_PASSPHRASE=$(DEMO_PASS) $(BIN)/arxi-seal --recorder-id demo-recorder --sign-key $(DEMO)/key.pem \
	    --store $(DEMO)/arxi.db --open --seal-at-end \
	  | $(BIN)/arxi-append --store $(DEMO)/arxi.db >> $(DEMO)/receipts.ndjson
	@echo "== arxi-seal rotate: a scheduled rotation to a second key (epoch 2), signed by both"
	ARXI_SIGN_PASSPHRASE=$(DEMO_PASS) $(BIN)/arxi-seal keygen -o $(DEMO)/key2.pem > $(DEMO)/key2.json
	set -o pipefail; ARXI_SIGN_PASSPHRASE=$(DEMO_PASS) $(BIN)/arxi-seal rotate --store $(DEMO)/arxi.db --sign-key $(DEMO)/key.pem \
	  --new-key $(DEMO)/key2.pem --recorder-id demo-recorder --reason "scheduled rotation" --claimed-at 2026-11-22T09:30:00Z \
	  | $(BIN)/arxi-append --store $(DEMO)/arxi.db >> $(DEMO)/receipts.ndjson
	@echo "   the old key is refused now:"
	-ARXI_SIGN_PASSPHRASE=$(DEMO_PASS) $(BIN)/arxi-seal --recorder-id demo-recorder --sign-key $(DEMO)/key.pem --store $(DEMO)/arxi.db --open < /dev/null
	@echo "== arxi-openclaw | seal | append: the OpenClaw gateway capture testdata/openclaw/capture.frames.ndjson, signed by the second key"
	set -o pipefail; $(BIN)/arxi-openclaw testdata/openclaw/capture.frames.ndjson \
	  | ARXI_SIGN_PASSPHRASE=$(DEMO_PASS) $(BIN)/arxi-seal --recorder-id demo-recorder --sign-key $(DEMO)/key2.pem \
	    --store $(DEMO)/arxi.db --open --seal-at-end \
	  | $(BIN)/arxi-append --store $(DEMO)/arxi.db >> $(DEMO)/receipts.ndjson
	@echo "$$(wc -l < $(DEMO)/receipts.ndjson) receipts; last: $$(tail -n 1 $(DEMO)/receipts.ndjson)"
	$(BIN)/arxi-append segment list --store $(DEMO)/arxi.db
	@echo "== arxi-query: trace trace-7f3a"
	$(BIN)/arxi-query --store $(DEMO)/arxi.db --trace-id trace-7f3a --format json | cut -c1-300; echo " …"
	@echo "== arxi-bundle: traces trace-9c21 and run-2 (the DG run) and the key lifecycle's segments, zstd"
	$(BIN)/arxi-bundle --store $(DEMO)/arxi.db --trace-id trace-9c21 --trace-id run-2 --event-type system.adapter.key_enrolled \
	  --event-type system.adapter.key_rotated --event-type system.adapter.key_rotated.break_glass -o $(DEMO)/case.arxb.zst
	$(BIN)/arxi-bundle inspect $(DEMO)/case.arxb.zst
	@echo "== arxi-verify: offline, against the trust root, strict"
	$(BIN)/arxi-verify --trust-root $(DEMO)/root.json --strict -v $(DEMO)/case.arxb.zst > $(DEMO)/verdict.json
	@cat $(DEMO)/verdict.json
	@echo "== the whole lineage: every segment bundled, verified against the root of the first key, following the rotation"
	$(BIN)/arxi-bundle --store $(DEMO)/arxi.db --all -o $(DEMO)/lineage.arxb.zst
	$(BIN)/arxi-verify --trust-root $(DEMO)/root.json --strict $(DEMO)/lineage.arxb.zst | grep -o '"record":"verdict","status":"[a-z]*"'
	@$(MAKE) --no-print-directory demo-sidecar

# demo-sidecar: the same recorder as a service. arxi-sidecar on a Unix
# socket in ./demo with its own store, signing with the demo key; a few
# envelopes recorded with curl (one with an Idempotency-Key, sent twice: the
# second answer is the stored one), the segment sealed, its canonical bundle
# listed, fetched and verified over HTTP against the trust root; SIGTERM.
SOCK := $(DEMO)/arxi.sock
CURL := curl -sS --fail-with-body --unix-socket $(SOCK)
demo-sidecar:
	@echo "== arxi-sidecar: configuration"
	@printf '%s' "$(DEMO_PASS)" > $(DEMO)/key.pass && chmod 600 $(DEMO)/key.pass $(DEMO)/key.pem
	@printf 'schema_version = 1\napi_version = "v1"\n[transport]\nmode = "unix"\nunix_socket = "arxi.sock"\n[auth]\nmode = "open"\n[store]\npath = "sidecar.db"\n[recorder]\nrecorder_id = "demo-sidecar"\nsign_key = "key.pem"\nsign_passphrase_file = "key.pass"\n[verify]\ntrust_root = "root.json"\n[log]\nformat = "text"\n' > $(DEMO)/sidecar.toml
	$(BIN)/arxi-sidecar config validate --config $(DEMO)/sidecar.toml | cut -c1-200; echo " …"
	@$(BIN)/arxi-sidecar --config $(DEMO)/sidecar.toml 2> $(DEMO)/sidecar.log & echo $$! > $(DEMO)/sidecar.pid
	@for i in $$(seq 100); do $(BIN)/arxi-sidecar healthcheck --unix-socket $(SOCK) --path /startup > /dev/null 2>&1 && break; sleep 0.1; done
	$(BIN)/arxi-sidecar healthcheck --unix-socket $(SOCK) --path /ready
	@echo "== POST /v1/envelopes: three events of testdata/demo/events.ndjson"
	@head -n 3 testdata/demo/events.ndjson | while read -r line; do \
	  printf '%s' "$$line" | $(CURL) -H 'Content-Type: application/json' --data-binary @- http://sidecar/v1/envelopes | cut -c1-160; echo " …"; done
	@echo "== POST /v1/envelopes with Idempotency-Key demo-1, twice: the replay is the stored answer"
	@for i in 1 2; do sed -n 4p testdata/demo/events.ndjson | tr -d '\n' | $(CURL) -i -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' \
	  --data-binary @- http://sidecar/v1/envelopes | grep -iE '^(HTTP|idempotency-replayed)|"receipt"' | sed -E 's/.*("receipt":[^}]*}).*/\1/'; done
	@echo "== POST /v1/envelopes/batch: the rest, NDJSON in, receipts out"
	sed -n '5,$$p' testdata/demo/events.ndjson | $(CURL) -H 'Content-Type: application/x-ndjson' --data-binary @- http://sidecar/v1/envelopes/batch | wc -l
	@echo "== POST /v1/segments/seal, then GET /v1/bundles"
	$(CURL) -H 'Content-Type: application/json' -d '{"reason":"manual"}' http://sidecar/v1/segments/seal; echo
	$(CURL) http://sidecar/v1/bundles | tee $(DEMO)/bundles.json; echo
	@echo "== GET /v1/bundles/{id} (zstd), POST /v1/bundles/verify"
	$(CURL) -H 'Accept: application/zstd' -o $(DEMO)/sidecar.arxb.zst http://sidecar/v1/bundles/$$(sed -E 's/.*"bundle_id":"([^"]+)".*/\1/' $(DEMO)/bundles.json)
	$(CURL) -H 'Content-Type: application/zstd' --data-binary @$(DEMO)/sidecar.arxb.zst http://sidecar/v1/bundles/verify | tee $(DEMO)/sidecar-verdict.json
	$(BIN)/arxi-verify --trust-root $(DEMO)/root.json --strict $(DEMO)/sidecar.arxb.zst | cmp - $(DEMO)/sidecar-verdict.json && echo "the same verdict as arxi-verify, byte for byte"
	@echo "== SIGTERM"
	@kill -TERM $$(cat $(DEMO)/sidecar.pid); while kill -0 $$(cat $(DEMO)/sidecar.pid) 2>/dev/null; do sleep 0.1; done
	@tail -n 3 $(DEMO)/sidecar.log

clean:
	rm -rf $(BIN) $(DEMO)
