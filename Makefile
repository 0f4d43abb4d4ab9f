# Arxi — developer targets. `make demo` runs the pipeline on the embedded
# demo data; `make test` is what CI runs.

GO      ?= go
SHELL   := /bin/bash
BIN     := $(CURDIR)/bin
CMDS    := $(notdir $(wildcard cmd/arxi-*))
DEMO    := $(CURDIR)/demo
FUZZTIME ?= 20s

.PHONY: all build test race vet lint bench fuzz demo clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race -count=1 ./...

lint:
	$(GO) tool staticcheck ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }

fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# bench: throughput benchmarks on one core (GOMAXPROCS=1: b.Loop-free
# benchmarks honour -cpu, but the environment pins the whole process), the
# seal|append pipeline on two cores, signed verification on one and two
# cores, then the whole-binary runs (peak RSS, the million-envelope store)
# once each. Printed as one table.
BENCH_PKGS ?= ./...
bench:
	@{ GOMAXPROCS=1 $(GO) test -run '^$$' -bench . -skip 'RSS|Million|Pipeline' -cpu 1 $(BENCH_PKGS); \
	   $(GO) test -run '^$$' -bench 'Pipeline' ./pkg/store/sqlite; \
	   $(GO) test -run '^$$' -bench 'VerifySigned$$' -benchtime 3x -cpu 1,2 ./pkg/verify; \
	   $(GO) test -run '^$$' -bench 'RSS|Million' -benchtime 1x $(BENCH_PKGS); } 2>&1 | $(GO) run ./internal/benchtab

# demo: the main job end to end on the embedded data, into a fresh local
# store: a signing key and trust root; the demo agent events and a real
# Decision Gate runpack sealed (signed) and appended; a trace queried; a
# bundle of two traces exported with zstd, inspected, and verified offline
# against the trust root.
DEMO_PASS := demo-passphrase-not-secret
demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo "== keygen: an encrypted Ed25519 key and its trust root"
	ARXI_SIGN_PASSPHRASE=$(DEMO_PASS) $(BIN)/arxi-seal keygen -o $(DEMO)/key.pem > $(DEMO)/key.json
	@printf '{"keys":[%s],"policy":{"kind":"any_trusted_key"},"trust_root_version":1}\n' "$$(cat $(DEMO)/key.json)" > $(DEMO)/root.json
	@cat $(DEMO)/root.json
	@echo "== seal | append: testdata/demo/events.ndjson into $(DEMO)/arxi.db"
	set -o pipefail; ARXI_SIGN_PASSPHRASE=$(DEMO_PASS) $(BIN)/arxi-seal --recorder-id demo-recorder --sign-key $(DEMO)/key.pem \
	  --store $(DEMO)/arxi.db --open --seal-at-end < testdata/demo/events.ndjson \
	  | $(BIN)/arxi-append --store $(DEMO)/arxi.db > $(DEMO)/receipts.ndjson
	@echo "== arxi-dg | seal | append: the Decision Gate runpack testdata/dg/golden_visibility_packet"
	set -o pipefail; $(BIN)/arxi-dg --attach-artifacts --logical-epoch 2026-11-22T09:10:00Z testdata/dg/golden_visibility_packet \
	  | ARXI_SIGN_PASSPHRASE=$(DEMO_PASS) $(BIN)/arxi-seal --recorder-id demo-recorder --sign-key $(DEMO)/key.pem \
	    --store $(DEMO)/arxi.db --open --seal-at-end \
	  | $(BIN)/arxi-append --store $(DEMO)/arxi.db >> $(DEMO)/receipts.ndjson
	@echo "$$(wc -l < $(DEMO)/receipts.ndjson) receipts; last: $$(tail -n 1 $(DEMO)/receipts.ndjson)"
	$(BIN)/arxi-append segment list --store $(DEMO)/arxi.db
	@echo "== arxi-query: trace trace-7f3a"
	$(BIN)/arxi-query --store $(DEMO)/arxi.db --trace-id trace-7f3a --format json | cut -c1-300; echo " …"
	@echo "== arxi-bundle: traces trace-9c21 and run-2 (the DG run), zstd"
	$(BIN)/arxi-bundle --store $(DEMO)/arxi.db --trace-id trace-9c21 --trace-id run-2 -o $(DEMO)/case.arxb.zst
	$(BIN)/arxi-bundle inspect $(DEMO)/case.arxb.zst
	@echo "== arxi-verify: offline, against the trust root, strict"
	$(BIN)/arxi-verify --trust-root $(DEMO)/root.json --strict -v $(DEMO)/case.arxb.zst > $(DEMO)/verdict.json
	@cat $(DEMO)/verdict.json

clean:
	rm -rf $(BIN) $(DEMO)
