package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/contracttest"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sidecar/api"
	"arxi.dev/arxi/pkg/sidecar/config"
	"arxi.dev/arxi/pkg/sidecar/recorder"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/memory"
	"arxi.dev/arxi/pkg/store/storetest"
)

const token = "test-token-0123456789abcdefghijklmnopqrstuvwxyz"

type sidecar struct {
	t      *testing.T
	url    string
	client *http.Client
	srv    *api.Server
	store  *store.Store
	rec    *recorder.Recorder
}

// start runs an API server over a real memory store and recorder on a
// loopback listener. extra is TOML appended to the configuration.
func start(t *testing.T, extra string) *sidecar {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600)
	toml := `schema_version = 1
api_version = "v1"
[transport]
mode = "tcp"
port = 0
[auth]
mode = "token"
token_file = "token"
[store]
backend = "memory"
[recorder]
recorder_id = "api-test"
` + extra
	cfg, err := config.Parse([]byte(toml), dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Config{Sidecar: cfg})
	s, err := store.Open(context.Background(), memory.New(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := recorder.Start(context.Background(), recorder.Config{Store: s, RecorderID: scalar.MustLabel("api-test"),
		MaxEnvelopes: uint64(cfg.Recorder.MaxEnvelopes), IdempotencyTTL: cfg.Idempotency.TTL.Duration,
		IdempotencyMax: cfg.Idempotency.MaxEntries, Observer: srv.Observer()})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetBackend(&api.Backend{Store: s, Recorder: rec, Catalog: &storesource.Catalog{}})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); rec.Close(false); s.Close() })
	return &sidecar{t: t, url: hs.URL, client: hs.Client(), srv: srv, store: s, rec: rec}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) problem(t *testing.T) map[string]any {
	t.Helper()
	var p map[string]any
	if ct := r.header.Get("Content-Type"); ct != api.MediaProblem {
		t.Fatalf("Content-Type %q, body %s", ct, r.body)
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// do sends a request with the token unless a header says otherwise;
// headers are "Name: value" strings.
func (s *sidecar) do(method, path, body string, headers ...string) resp {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	auth := true
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		switch {
		case k == "Authorization" && v == "":
			auth = false
			continue
		case k == "Content-Type" && v == "":
			req.Header.Del(k)
			continue
		}
		req.Header.Add(k, v)
	}
	if auth && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	r, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if r.Header.Get(api.HeaderServerCorrelationID) == "" {
		s.t.Errorf("%s %s: no %s", method, path, api.HeaderServerCorrelationID)
	}
	contracttest.Load(s.t, "../../../docs/generated").Check(s.t, req, r.StatusCode, r.Header, b)
	return resp{r.StatusCode, r.Header, b}
}

func event(i int) string { return strings.TrimSuffix(storetest.Event(i), "\n") }

// TestProtocol: every rule of SIDECAR.md §3 that a single request can
// break gets its problem and status, and nothing is written.
func TestProtocol(t *testing.T) {
	s := start(t, "[limits]\nmax_header_bytes = 2048\nmax_body_bytes = 4096\n")
	big := strings.Repeat("x", 5000)
	for _, tc := range []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code, field              string
		line                     float64
	}{
		{"unknown route", "GET", "/v2/nothing", "", nil, 404, "request.not_found", "", 0},
		{"wrong method", "DELETE", "/v1/envelopes", "", nil, 405, "request.method_not_allowed", "", 0},
		{"no token", "GET", "/v1/segments", "", []string{"Authorization: "}, 401, "auth.invalid_token", "", 0},
		{"bad token", "GET", "/v1/segments", "", []string{"Authorization: Bearer nope"}, 401, "auth.invalid_token", "", 0},
		{"basic auth", "GET", "/v1/segments", "", []string{"Authorization: Basic dTpw"}, 401, "auth.invalid_token", "", 0},
		{"metrics on TCP need the token", "GET", "/metrics", "", []string{"Authorization: "}, 401, "auth.invalid_token", "", 0},
		{"no content type", "POST", "/v1/envelopes", event(0), []string{"Content-Type: "}, 415, "request.unsupported_media_type", "", 0},
		{"wrong content type", "POST", "/v1/envelopes", event(0), []string{"Content-Type: ", "Content-Type: text/plain"}, 415, "request.unsupported_media_type", "", 0},
		{"batch needs ndjson", "POST", "/v1/envelopes/batch", event(0), nil, 415, "request.unsupported_media_type", "", 0},
		{"not acceptable", "POST", "/v1/envelopes", event(0), []string{"Accept: text/html"}, 406, "request.not_acceptable", "", 0},
		{"q=0", "GET", "/v1/segments", "", []string{"Accept: application/json;q=0"}, 406, "request.not_acceptable", "", 0},
		{"body too large", "POST", "/v1/envelopes", big, nil, 413, "request.too_large", "", 0},
		{"headers too large", "GET", "/v1/segments", "", []string{"X-Pad: " + strings.Repeat("p", 3000)}, 431, "request.headers_too_large", "", 0},
		{"bad correlation id", "GET", "/v1/segments", "", []string{"X-Correlation-Id: " + strings.Repeat("c", 129)}, 400, "request.header_invalid", "x-correlation-id", 0},
		{"non-ASCII correlation id", "GET", "/v1/segments", "", []string{"X-Request-Id: caf\xc3\xa9"}, 400, "request.header_invalid", "x-request-id", 0},
		{"bad idempotency key", "POST", "/v1/envelopes", event(0), []string{"Idempotency-Key: " + strings.Repeat("k", 256)}, 400, "idempotency.key_invalid", "idempotency-key", 0},
		{"two idempotency keys", "POST", "/v1/envelopes", event(0), []string{"Idempotency-Key: a", "Idempotency-Key: b"}, 400, "idempotency.key_invalid", "idempotency-key", 0},
		{"malformed JSON", "POST", "/v1/envelopes", `{"event_type":`, nil, 400, "input.malformed_json", "", 0},
		{"duplicate key", "POST", "/v1/envelopes", `{"actor_id":"a","actor_id":"b"}`, nil, 400, "input.malformed_json", "", 0},
		{"unknown field", "POST", "/v1/envelopes", strings.Replace(event(0), `{"event_type"`, `{"colour":"red","event_type"`, 1), nil, 400, "input.unknown_field", "colour", 0},
		{"missing field", "POST", "/v1/envelopes", `{"event_type":"tool.call"}`, nil, 400, "input.missing_field", "actor_id", 0},
		{"non-UTC time", "POST", "/v1/envelopes", strings.Replace(event(0), `Z"`, `+01:00"`, 1), nil, 400, "input.non_utc_time", "claimed_at", 0},
		{"attachment reference to nothing", "POST", "/v1/envelopes", strings.Replace(event(0), `"payload"`, `"attachments":[{"content_type":"text/plain","hash":"sha256:`+strings.Repeat("0", 64)+`","size":3}],"payload"`, 1), nil, 400, "input.attachment_missing", "attachments[0].hash", 0},
		{"an attachment record", "POST", "/v1/envelopes", `{"data":"aGk=","hash":"sha256:8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4","record":"attachment","size":2}`, nil, 400, "input.unexpected_record", "record", 0},
		{"with-attachments: unknown member", "POST", "/v1/envelopes/with-attachments", `{"envelope":` + event(0) + `,"x":1}`, nil, 400, "input.unknown_field", "x", 0},
		{"with-attachments: envelope field", "POST", "/v1/envelopes/with-attachments", `{"envelope":` + strings.Replace(event(1), `"tool.result"`, `"Bad"`, 1) + `}`, nil, 400, "input.field_invalid", "envelope.event_type", 0},
		{"with-attachments: reference", "POST", "/v1/envelopes/with-attachments", `{"envelope":` + event(1) + `,"attachments":[{"content_type":"a/b","hash":"x","size":1}]}`, nil, 400, "input.unknown_field", "attachments[0].hash", 0},
		{"with-attachments: bad base64", "POST", "/v1/envelopes/with-attachments", `{"envelope":` + event(1) + `,"attachments":[{"content_type":"a/b","data":"!!"}]}`, nil, 400, "input.field_invalid", "attachments[0].data", 0},
		{"batch: bad second line", "POST", "/v1/envelopes/batch", event(1) + "\n" + strings.Replace(event(1), `"tool.result"`, `1`, 1) + "\n", []string{"Content-Type: ", "Content-Type: application/x-ndjson"}, 400, "input.field_invalid", "event_type", 2},
		{"batch: no newline at the end", "POST", "/v1/envelopes/batch", event(1), []string{"Content-Type: ", "Content-Type: application/x-ndjson"}, 400, "input.malformed_json", "", 1},
		{"batch: empty", "POST", "/v1/envelopes/batch", "", []string{"Content-Type: application/x-ndjson"}, 400, "input.missing_field", "", 0},
		{"open with a body", "POST", "/v1/segments", `{"x":1}`, nil, 400, "input.unknown_field", "x", 0},
		{"seal reason", "POST", "/v1/segments/seal", `{"reason":"shutdown"}`, nil, 400, "input.field_invalid", "reason", 0},
		{"seal none open", "POST", "/v1/segments/seal", `{}`, nil, 404, "segment.none_open", "", 0},
		{"no active segment", "GET", "/v1/segments/active", "", nil, 404, "segment.none_open", "", 0},
		{"query: unknown filter", "POST", "/v1/query/envelopes", `{"filter":{"actor":"a"}}`, nil, 400, "input.unknown_field", "filter.actor", 0},
		{"query: limit", "POST", "/v1/query/envelopes", `{"limit":10001}`, nil, 400, "input.field_invalid", "limit", 0},
		{"query: limit type", "POST", "/v1/query/envelopes", `{"limit":"5"}`, nil, 400, "input.field_invalid", "limit", 0},
		{"query: cursor", "POST", "/v1/query/envelopes", `{"cursor":"nope"}`, nil, 400, "usage.invalid", "cursor", 0},
		{"query: after_sequence alone", "POST", "/v1/query/envelopes", `{"filter":{"after_sequence":3}}`, nil, 400, "input.field_invalid", "filter", 0},
		{"query: bad time", "POST", "/v1/query/envelopes", `{"filter":{"since":"yesterday"}}`, nil, 400, "input.field_invalid", "filter.since", 0},
		{"build: no selector", "POST", "/v1/bundles/build", `{}`, nil, 400, "input.missing_field", "selector", 0},
		{"build: empty selector", "POST", "/v1/bundles/build", `{"selector":{}}`, nil, 400, "input.field_invalid", "selector", 0},
		{"build: nothing matches", "POST", "/v1/bundles/build", `{"selector":{"trace_ids":["none"]}}`, nil, 422, "bundle.empty", "", 0},
		{"build: stream", "POST", "/v1/bundles/build", `{"selector":{"stream":true}}`, nil, 400, "input.field_invalid", "selector.stream", 0},
		{"list: limit", "GET", "/v1/segments?limit=0", "", nil, 400, "input.field_invalid", "limit", 0},
		{"list: unknown parameter", "GET", "/v1/bundles?page=2", "", nil, 400, "input.unknown_field", "page", 0},
		{"query parameter on a write", "POST", "/v1/envelopes?x=1", event(0), nil, 400, "input.unknown_field", "x", 0},
		{"bundle: not a UUID", "GET", "/v1/bundles/build", "", nil, 404, "bundle.not_found", "", 0},
		{"bundle: unknown", "GET", "/v1/bundles/019a0000-0000-7000-8000-000000000000", "", nil, 404, "bundle.not_found", "", 0},
		{"verify: not a bundle", "POST", "/v1/bundles/verify", "hello\n", []string{"Content-Type: ", "Content-Type: application/x-ndjson"}, 400, "input.malformed_json", "", 1},
		{"inspect: empty", "POST", "/v1/bundles/inspect", "", []string{"Content-Type: application/zstd"}, 400, "bundle.malformed", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.method, tc.path, tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			p := r.problem(t)
			if p["code"] != tc.code || p["type"] != "urn:arxi:error:"+tc.code || p["status"] != float64(tc.status) || p["title"] == "" || p["detail"] == "" {
				t.Errorf("problem %s, want code %s", r.body, tc.code)
			}
			if got, _ := p["field"].(string); got != tc.field {
				t.Errorf("field %q, want %q: %s", got, tc.field, r.body)
			}
			if got, _ := p["line"].(float64); got != tc.line {
				t.Errorf("line %v, want %v", got, tc.line)
			}
			if p["correlation_id"] != r.header.Get(api.HeaderServerCorrelationID) {
				t.Errorf("correlation_id %v, server id %s", p["correlation_id"], r.header.Get(api.HeaderServerCorrelationID))
			}
			switch tc.status {
			case 401:
				want := `Bearer realm="arxi", error="invalid_token"`
				if strings.Contains(tc.name, "no token") || strings.Contains(tc.name, "metrics") {
					want = `Bearer realm="arxi"`
				}
				if got := r.header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate %q, want %q", got, want)
				}
			case 405:
				if r.header.Get("Allow") != "POST" {
					t.Errorf("Allow %q", r.header.Get("Allow"))
				}
			}
			for _, leak := range []string{token, "/tmp", ".go:", "goroutine"} {
				if bytes.Contains(r.body, []byte(leak)) {
					t.Errorf("the response shows %q: %s", leak, r.body)
				}
			}
		})
	}
	// Nothing was written by any of them.
	sn, _ := s.store.Snapshot(context.Background())
	defer sn.Close()
	if g, _ := sn.LastSegment(context.Background()); g != nil {
		t.Errorf("a rejected request wrote segment %s", g.ID())
	}
}

// TestRoutes: the success path of every route, the correlation headers,
// and the probes without a token.
func TestRoutes(t *testing.T) {
	s := start(t, "")
	for _, p := range []string{"/health", "/startup", "/ready"} {
		r := s.do("GET", p, "", "Authorization: ")
		if r.status != 200 || !json.Valid(r.body) {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
	r := s.do("POST", "/v1/envelopes", event(0), "X-Correlation-Id: client-1")
	if r.status != 201 || r.header.Get("X-Correlation-Id") != "client-1" || !bytes.HasPrefix(r.body, []byte(`{"envelope":{"actor_id"`)) || !bytes.Contains(r.body, []byte(`,"receipt":{"chain_hash"`)) {
		t.Fatalf("record: %d %v %s", r.status, r.header, r.body)
	}
	r = s.do("POST", "/v1/envelopes/with-attachments", `{"envelope":`+event(1)+`,"attachments":[{"content_type":"text/plain","data":"aGVsbG8K"}]}`, "X-Request-Id: legacy-1")
	if r.status != 201 || r.header.Get("X-Request-Id") != "legacy-1" || !bytes.Contains(r.body, []byte(`"attachments":[{"content_type":"text/plain","hash":"sha256:`)) {
		t.Fatalf("with attachments: %d %s", r.status, r.body)
	}
	batch := event(2) + "\n" + event(3) + "\n" + event(4) + "\n"
	r = s.do("POST", "/v1/envelopes/batch", batch, "Content-Type: ", "Content-Type: application/x-ndjson")
	if r.status != 201 || r.header.Get("Content-Type") != api.MediaNDJSON || bytes.Count(r.body, []byte(`"record":"receipt"`)) != 3 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	r = s.do("GET", "/v1/segments/active", "")
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"envelope_count":5`)) || !bytes.Contains(r.body, []byte(`"state":"open"`)) {
		t.Fatalf("active: %d %s", r.status, r.body)
	}
	r = s.do("POST", "/v1/query/envelopes", `{"filter":{"event_types":["tool.call","session.start"]},"limit":1}`)
	var page struct {
		Envelopes  []json.RawMessage `json:"envelopes"`
		NextCursor *string           `json:"next_cursor"`
	}
	if json.Unmarshal(r.body, &page); r.status != 200 || len(page.Envelopes) != 1 || page.NextCursor == nil {
		t.Fatalf("query: %d %s", r.status, r.body)
	}
	r = s.do("POST", "/v1/query/envelopes", fmt.Sprintf(`{"filter":{"event_types":["tool.call","session.start"]},"limit":1,"cursor":%q}`, *page.NextCursor))
	if r.status != 200 {
		t.Fatalf("query page 2: %d %s", r.status, r.body)
	}
	r = s.do("POST", "/v1/segments/seal", `{"reason":"manual"}`)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"reason":"manual"`)) {
		t.Fatalf("seal: %d %s", r.status, r.body)
	}
	r = s.do("POST", "/v1/segments", `{}`)
	if r.status != 201 || !bytes.Contains(r.body, []byte(`"record":"genesis"`)) {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	r = s.do("POST", "/v1/segments", `{}`)
	if r.status != 409 || r.problem(t)["code"] != "segment.already_open" {
		t.Fatalf("second open: %d %s", r.status, r.body)
	}
	r = s.do("GET", "/v1/segments?limit=1", "")
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"next_cursor":"`)) || bytes.Count(r.body, []byte(`"record":"segment"`)) != 1 {
		t.Fatalf("segments: %d %s", r.status, r.body)
	}
	r = s.do("GET", "/v1/bundles", "")
	var list struct {
		Bundles []struct {
			BundleID string `json:"bundle_id"`
		} `json:"bundles"`
	}
	if json.Unmarshal(r.body, &list); r.status != 200 || len(list.Bundles) != 1 {
		t.Fatalf("bundles: %d %s", r.status, r.body)
	}
	byID := s.do("GET", "/v1/bundles/"+list.Bundles[0].BundleID, "")
	built := s.do("POST", "/v1/bundles/build", `{"selector":{"segments":["`+segmentOf(t, byID.body)+`"]}}`)
	if byID.status != 200 || built.status != 200 || !bytes.Equal(byID.body, built.body) || byID.header.Get("Content-Type") != api.MediaNDJSON {
		t.Fatalf("bundle by id (%d) and by segment (%d) differ", byID.status, built.status)
	}
	zst := s.do("GET", "/v1/bundles/"+list.Bundles[0].BundleID, "", "Accept: application/zstd")
	if zst.status != 200 || zst.header.Get("Content-Type") != api.MediaZstd || !bytes.HasPrefix(zst.body, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatalf("zstd bundle: %d %q", zst.status, zst.header.Get("Content-Type"))
	}
	for _, body := range [][]byte{byID.body, zst.body} {
		ct := api.MediaNDJSON
		if body[0] == 0x28 {
			ct = api.MediaZstd
		}
		v := s.do("POST", "/v1/bundles/verify", string(body), "Content-Type: ", "Content-Type: "+ct)
		if v.status != 200 || !bytes.Contains(v.body, []byte(`"status":"valid"`)) {
			t.Fatalf("verify: %d %s", v.status, v.body)
		}
		in := s.do("POST", "/v1/bundles/inspect", string(body), "Content-Type: ", "Content-Type: "+ct)
		if in.status != 200 || !bytes.HasPrefix(in.body, []byte(`{"attachments":[`)) || !bytes.Contains(in.body, []byte(list.Bundles[0].BundleID)) {
			t.Fatalf("inspect: %d %s", in.status, in.body)
		}
	}
	r = s.do("GET", "/v1/config", "")
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"token_file":"[redacted]"`)) || bytes.Contains(r.body, []byte(token)) {
		t.Fatalf("config: %d %s", r.status, r.body)
	}
	r = s.do("GET", "/metrics", "")
	for _, m := range []string{"arxi_sidecar_requests_total{operation=\"envelopes.record\",status=\"201\"} 1", "arxi_sidecar_envelopes_appended_total 5",
		"arxi_sidecar_seals_total{reason=\"manual\"} 1", "arxi_sidecar_verify_total{outcome=\"valid\"} 2",
		"arxi_sidecar_requests_total{operation=\"bundles.verify\",status=\"200\"} 2", "arxi_sidecar_request_duration_seconds_count{operation=\"bundles.verify\",status=\"200\"} 2", "arxi_sidecar_group_commit_requests_count",
		"arxi_sidecar_in_flight 0", "arxi_sidecar_queue_depth 0"} {
		if !bytes.Contains(r.body, []byte(m)) {
			t.Errorf("metrics lack %s", m)
		}
	}
}

func segmentOf(t *testing.T, bundle []byte) string {
	t.Helper()
	i := bytes.Index(bundle, []byte(`"segment_id":"`))
	if i < 0 {
		t.Fatalf("no segment in %s", bundle)
	}
	return string(bundle[i+14 : i+50])
}

// TestIdempotency: a replay gets the stored response with
// Idempotency-Replayed; the key with another body is a conflict; and the
// replay wrote nothing more.
func TestIdempotency(t *testing.T) {
	s := start(t, "")
	first := s.do("POST", "/v1/envelopes", event(0), "Idempotency-Key: order-7")
	again := s.do("POST", "/v1/envelopes", event(0), "Idempotency-Key: order-7")
	if first.status != 201 || again.status != 201 || !bytes.Equal(first.body, again.body) || again.header.Get("Idempotency-Replayed") != "true" || first.header.Get("Idempotency-Replayed") != "" {
		t.Fatalf("first %d, replay %d %v", first.status, again.status, again.header)
	}
	other := s.do("POST", "/v1/envelopes", event(1), "Idempotency-Key: order-7")
	if other.status != 409 || other.problem(t)["code"] != "idempotency.conflict" {
		t.Fatalf("another body: %d %s", other.status, other.body)
	}
	otherPath := s.do("POST", "/v1/envelopes/with-attachments", `{"envelope":`+event(0)+`}`, "Idempotency-Key: order-7")
	if otherPath.status != 409 {
		t.Fatalf("another route: %d %s", otherPath.status, otherPath.body)
	}
	// A failed request stores nothing: its key stays free.
	bad := s.do("POST", "/v1/envelopes", `{}`, "Idempotency-Key: k2")
	good := s.do("POST", "/v1/envelopes", event(2), "Idempotency-Key: k2")
	if bad.status != 400 || good.status != 201 || good.header.Get("Idempotency-Replayed") != "" {
		t.Fatalf("after a failure: %d, then %d", bad.status, good.status)
	}
	r := s.do("GET", "/v1/segments/active", "")
	if !bytes.Contains(r.body, []byte(`"envelope_count":2`)) {
		t.Errorf("the store holds other than 2 envelopes: %s", r.body)
	}
	m := s.do("GET", "/metrics", "")
	for _, want := range []string{`arxi_sidecar_idempotency_total{outcome="replayed"} 1`, `arxi_sidecar_idempotency_total{outcome="conflict"} 2`} {
		if !bytes.Contains(m.body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestInProgress: a request with the key of one still running is 409
// idempotency.in_progress.
func TestInProgress(t *testing.T) {
	s := start(t, "")
	// Hold the recorder: a job whose response waits.
	release := make(chan struct{})
	go s.rec.Do(context.Background(), &recorder.Job{Kind: recorder.Record, Records: nil,
		Render: func(*recorder.Outcome) (*recorder.Response, error) { <-release; return nil, nil }})
	time.Sleep(20 * time.Millisecond)
	done := make(chan resp)
	go func() { done <- s.do("POST", "/v1/envelopes", event(0), "Idempotency-Key: slow") }()
	for s.rec.Queued() == 0 {
		time.Sleep(time.Millisecond)
	}
	r := s.do("POST", "/v1/envelopes", event(0), "Idempotency-Key: slow")
	close(release)
	if r.status != 409 || r.problem(t)["code"] != "idempotency.in_progress" {
		t.Fatalf("concurrent duplicate: %d %s", r.status, r.body)
	}
	if first := <-done; first.status != 201 {
		t.Fatalf("the first: %d %s", first.status, first.body)
	}
}

// TestSlowBody: a body that does not arrive within request_timeout is
// 408 request.timeout.
func TestSlowBody(t *testing.T) {
	s := start(t, "[limits]\nrequest_timeout = \"200ms\"\n")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/envelopes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ev", token)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(conn)
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 408 ")) || !bytes.Contains(b, []byte(`"code":"request.timeout"`)) {
		t.Fatalf("slow body: %s", b)
	}
}

// TestBodyLength: a body of undeclared length (chunked) is read as one of
// declared length is: whole when within max_body_bytes, 413 beyond.
func TestBodyLength(t *testing.T) {
	s := start(t, "[limits]\nmax_body_bytes = 4096\n")
	for _, tc := range []struct {
		name    string
		body    string
		chunked bool
		status  int
	}{
		{"declared", event(0), false, 201},
		{"chunked", event(1), true, 201},
		{"chunked, too large", strings.Repeat(" ", 4097) + event(2), true, 413},
	} {
		var body io.Reader = strings.NewReader(tc.body)
		if tc.chunked {
			body = io.MultiReader(body) // no length: sent chunked
		}
		req, _ := http.NewRequest("POST", s.url+"/v1/envelopes", body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		r, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != tc.status || (tc.chunked != (req.ContentLength == 0)) {
			t.Errorf("%s: %d %s", tc.name, r.StatusCode, b)
		}
	}
}
