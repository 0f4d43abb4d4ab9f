# Arxi — developer targets. `make demo` runs the pipeline on the embedded
# demo data; `make test` is what CI runs.

GO      ?= go
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

# bench: throughput benchmarks on one core, then the whole-binary runs
# (peak RSS over a million envelopes) once each; printed as one table.
BENCH_PKGS ?= ./...
bench:
	@{ $(GO) test -run '^$$' -bench . -skip 'RSS|Million' -cpu 1 $(BENCH_PKGS); \
	   $(GO) test -run '^$$' -bench 'RSS|Million' -benchtime 1x $(BENCH_PKGS); } 2>&1 | $(GO) run ./internal/benchtab

demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo "== arxi-seal: sealing testdata/demo/events.ndjson"
	$(BIN)/arxi-seal --recorder-id demo-recorder --seal-at-end < testdata/demo/events.ndjson > $(DEMO)/sealed.ndjson
	@echo "== sealed stream ($$(wc -l < $(DEMO)/sealed.ndjson) records); first and last line:"
	@head -n 1 $(DEMO)/sealed.ndjson
	@tail -n 1 $(DEMO)/sealed.ndjson

clean:
	rm -rf $(BIN) $(DEMO)
