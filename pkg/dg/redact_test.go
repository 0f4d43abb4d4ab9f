package dg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/redact"
	"arxi.dev/arxi/pkg/redact/redacttest"
	"github.com/google/go-cmp/cmp"
)

// secretRunpack plants secrets in golden_visibility_packet: in caller
// payloads, under sensitive key names at several depths (also where no
// default path reaches), in references and error details, and in the
// manifest's metadata.
func secretRunpack(t testing.TB) string {
	dir := copyRunpack(t, "golden_visibility_packet")
	editJSON(t, dir, "artifacts/triggers.json", func(v any) any {
		ev := v.([]any)[1].(map[string]any)["event"].(map[string]any)
		ev["payload"] = map[string]any{"kind": "json", "value": map[string]any{"note": "SECRET-1", "nested": []any{map[string]any{"Authorization": "Bearer SECRET-2"}}}}
		return v
	})
	editJSON(t, dir, "artifacts/packets.json", func(v any) any {
		p := v.([]any)[0].(map[string]any)
		p["payload"] = map[string]any{"kind": "json", "value": map[string]any{"password": "SECRET-3"}}
		p["envelope"].(map[string]any)["visibility"].(map[string]any)["session_cookie"] = "SECRET-4"
		return v
	})
	editJSON(t, dir, "artifacts/decisions.json", func(v any) any {
		d := v.([]any)[0].(map[string]any)
		d["meta"] = map[string]any{"deep": []any{map[string]any{"x": map[string]any{"Client_Secret": map[string]any{"v": "SECRET-5"}, "API-Key": "SECRET-6"}}}}
		return v
	})
	editJSON(t, dir, "artifacts/gate_evals.json", func(v any) any {
		res := v.([]any)[0].(map[string]any)["evidence"].([]any)[0].(map[string]any)["result"].(map[string]any)
		res["evidence_ref"] = map[string]any{"uri": "https://evidence.example/SECRET-7"}
		return v
	})
	editJSON(t, dir, "artifacts/tool_calls.json", func(v any) any {
		c := v.([]any)[0].(map[string]any)
		c["error"] = map[string]any{"code": "x", "message": "m", "details": map[string]any{"kind": "message", "info": "SECRET-8"}}
		return v
	})
	editJSON(t, dir, "manifest.json", func(v any) any {
		v.(map[string]any)["security"].(map[string]any)["bearer_token"] = "SECRET-9"
		return v
	})
	rehash(t, dir)
	return dir
}

func TestRedactionNoSecrets(t *testing.T) {
	dir := secretRunpack(t)
	out, _, err := mapLines(t, dir, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(out, []byte("SECRET-")); i >= 0 {
		t.Fatalf("a secret is in the output: …%s…", out[max(0, i-200):i+20])
	}
	// Without redaction every secret is there (the test plants what it
	// thinks it plants).
	plain, _, err := mapLines(t, dir, Config{Policy: mustPolicy(t, PolicyConfig{DisableDefaults: true})})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 9; i++ {
		if s := fmt.Sprintf("SECRET-%d", i); !bytes.Contains(plain, []byte(s)) {
			t.Errorf("--redact=false output lacks %s", s)
		}
	}
	checkProofs(t, dir, out)
}

func mustPolicy(t testing.TB, cfg PolicyConfig) *Policy {
	t.Helper()
	p, err := NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkProofs checks what a holder of the runpack can prove from each
// record envelope: record_sha256 is the SHA-256 of the original record's
// JCS form, every marker's sha256 and bytes are those of the JCS form of
// the value it replaced, and redactions lists exactly the markers' paths.
func checkProofs(t *testing.T, dir string, out []byte) {
	t.Helper()
	for _, m := range envelopes(t, out) {
		p := payload(m)
		src := p["source"].(map[string]any)
		path := src["path"].(string)
		var orig any
		switch path {
		case IntegrityPath:
			continue
		case ManifestPath:
			orig = readJSON(t, filepath.Join(dir, path))
			if got := hexSum(mustJCS(t, orig)); got != src["record_sha256"] {
				t.Errorf("manifest record_sha256 = %v, want %s", src["record_sha256"], got)
			}
			mo := orig.(map[string]any)
			meta := map[string]any{"root_hash": mo["integrity"].(map[string]any)["root_hash"]}
			for k, v := range mo {
				if k != "artifacts" && k != "integrity" {
					meta[k] = v
				}
			}
			orig, p["record"] = meta, p["manifest"]
		default:
			orig = readJSON(t, filepath.Join(dir, filepath.FromSlash(path)))
			if arr, ok := orig.([]any); ok {
				n, _ := src["index"].(json.Number).Int64()
				orig = arr[n]
			}
			if got := hexSum(mustJCS(t, orig)); got != src["record_sha256"] {
				t.Errorf("%s[%v]: record_sha256 = %v, want %s", path, src["index"], src["record_sha256"], got)
			}
		}
		paths := redacttest.Markers(t, redact.JSONPath, orig, p["record"])
		var listed []string
		for _, x := range p["redactions"].([]any) {
			listed = append(listed, x.(string))
		}
		if diff := cmp.Diff(paths, listed); diff != "" {
			t.Errorf("%s: redactions (-markers +listed):\n%s", path, diff)
		}
	}
}

func mustJCS(t testing.TB, v any) []byte {
	b, err := canonical.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRedactionPaths(t *testing.T) {
	dir := secretRunpack(t)
	out, _, err := mapLines(t, dir, Config{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]any{}
	for _, m := range envelopes(t, out) {
		got[m["event_type"].(string)] = append(got[m["event_type"].(string)], payload(m)["redactions"])
	}
	want := map[string][]any{
		EventRunpack:        {[]any{"$.security.bearer_token"}},
		EventTrigger:        {[]any{}, []any{"$.event.payload"}},
		EventGateEval:       {[]any{"$.evidence[0].result.evidence_ref.uri", "$.evidence[0].result.value"}},
		EventDecision:       {[]any{"$.meta.deep[0].x.Client_Secret", "$.meta.deep[0].x[\"API-Key\"]"}, []any{}}, // bytewise order
		EventPacket:         {[]any{"$.envelope.visibility.session_cookie", "$.payload"}},
		EventToolCall:       {[]any{"$.error.details"}},
		EventVerifierReport: {[]any{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("redactions (-want +got):\n%s", diff)
	}
}

func TestRedactPathFlag(t *testing.T) {
	dir := copyRunpack(t, "golden_visibility_packet")
	pol := mustPolicy(t, PolicyConfig{Paths: []string{
		"triggers:$.event.source_id",
		`$..["stage_id"]`,
		"decisions:$.outcome.*",
		"packets:$.envelope.visibility.labels[1]",
	}})
	out, _, err := mapLines(t, dir, Config{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range envelopes(t, out) {
		b, _ := json.Marshal(payload(m)["redactions"])
		got = append(got, m["event_type"].(string)+" "+string(b))
	}
	want := []string{
		`dg.runpack []`,
		`dg.trigger ["$.event.source_id"]`,
		`dg.trigger ["$.event.source_id"]`,
		`dg.gate_eval ["$.evidence[0].result.value","$.stage_id"]`,
		`dg.decision ["$.outcome.kind","$.outcome.stage_id","$.stage_id"]`,
		`dg.decision ["$.outcome.kind","$.outcome.stage_id","$.stage_id"]`,
		`dg.packet ["$.envelope.stage_id","$.envelope.visibility.labels[1]","$.payload"]`,
		`dg.tool_call []`,
		`dg.verifier_report []`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("redactions (-want +got):\n%s", diff)
	}
	checkProofs(t, dir, out)
}

func TestRedactDisabled(t *testing.T) {
	dir := runpackDir("golden_visibility_packet")
	out, _, err := mapLines(t, dir, Config{Policy: mustPolicy(t, PolicyConfig{DisableDefaults: true})})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range envelopes(t, out) {
		p := payload(m)
		if r := p["redactions"].([]any); len(r) != 0 {
			t.Errorf("%s: redactions = %v", m["event_type"], r)
		}
		src := p["source"].(map[string]any)
		if rec, ok := p["record"]; ok && src["path"] != ManifestPath {
			if got := hexSum(mustJCS(t, rec)); got != src["record_sha256"] {
				t.Errorf("%s: unredacted record does not hash to record_sha256", m["event_type"])
			}
		}
	}
}

// TestBounds: long strings and big records become truncated markers, the
// same way on every run.
func TestBounds(t *testing.T) {
	dir := copyRunpack(t, "golden_visibility_packet")
	long := strings.Repeat("λ", 40) // 80 bytes
	editJSON(t, dir, "artifacts/decisions.json", func(v any) any {
		v.([]any)[0].(map[string]any)["note"] = long
		v.([]any)[1].(map[string]any)["blob"] = strings.Repeat("x", 600)
		return v
	})
	rehash(t, dir)
	cfg := Config{Policy: mustPolicy(t, PolicyConfig{MaxString: 79, MaxRecord: 700})}
	out, _, err := mapLines(t, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, _, _ := mapLines(t, dir, cfg)
	if !bytes.Equal(out, again) {
		t.Fatal("bounded output differs between runs")
	}
	var decisions []map[string]any
	for _, m := range envelopes(t, out) {
		if m["event_type"] == EventDecision {
			decisions = append(decisions, payload(m))
		}
	}
	d0 := decisions[0]["record"].(map[string]any)
	note := d0["note"].(map[string]any)
	lit := canonical.AppendString(nil, long)
	if note["truncated"] != true || note["sha256"] != hexSum(lit) || note["bytes"] != json.Number(fmt.Sprint(len(lit))) {
		t.Errorf("note = %v, want a truncated marker of %s", note, lit)
	}
	if diff := cmp.Diff([]any{"$.note"}, decisions[0]["redactions"]); diff != "" {
		t.Error(diff)
	}
	// Strings are bounded before the record: with the 600-byte string cut
	// the record fits in 700 bytes and stays.
	if diff := cmp.Diff([]any{"$.blob"}, decisions[1]["redactions"]); diff != "" {
		t.Error(diff)
	}
	// A record over --max-record after redaction is replaced whole.
	cfg = Config{Policy: mustPolicy(t, PolicyConfig{MaxRecord: 300})}
	out, _, err = mapLines(t, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var seen bool
	for _, m := range envelopes(t, out) {
		p := payload(m)
		if m["event_type"] != EventDecision || p["source"].(map[string]any)["index"] != json.Number("1") {
			continue
		}
		seen = true
		rec := p["record"].(map[string]any)
		if rec["truncated"] != true || rec["sha256"] != p["source"].(map[string]any)["record_sha256"] {
			t.Errorf("record = %v, want a truncated marker with the record's hash", rec)
		}
		if diff := cmp.Diff([]any{"$"}, p["redactions"]); diff != "" {
			t.Error(diff)
		}
	}
	if !seen {
		t.Error("no decision $[1]")
	}
	checkProofs(t, dir, out)
}

func TestPolicyErrors(t *testing.T) {
	for _, cfg := range []PolicyConfig{
		{Paths: []string{"bad"}},
		{MaxString: -1},
		{MaxRecord: MaxMaxRecord + 1},
	} {
		if _, err := NewPolicy(cfg); !errors.Is(err, errcode.ConfigInvalid) {
			t.Errorf("NewPolicy(%+v) = %v, want config.invalid", cfg, err)
		}
	}
}

// TestNullNotRedacted: a null under a redacted path stays null (there is
// nothing to hide), as in both golden runpacks' trigger payloads.
func TestNullNotRedacted(t *testing.T) {
	r := DefaultPolicy().Redactor()
	out, paths := r.Redact("triggers", `{"event":{"payload":null,"token":null}}`)
	if string(out) != `{"event":{"payload":null,"token":null}}` || len(paths) != 0 {
		t.Errorf("redact = %s %v", out, paths)
	}
}

func TestRedactorDeterministic(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "golden", "golden_visibility_packet.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	r := DefaultPolicy().Redactor()
	for _, l := range bytes.Split(bytes.TrimSpace(src), []byte("\n")) {
		a, pa := r.Redact("triggers", string(l))
		a = append([]byte(nil), a...)
		pa = append([]string(nil), pa...)
		b, pb := DefaultPolicy().Redactor().Redact("triggers", string(l))
		if !bytes.Equal(a, b) || !cmp.Equal(pa, pb) {
			t.Fatalf("a reused redactor differs from a fresh one on %s", l)
		}
		if !canonical.IsCanonical(a) {
			t.Fatalf("redacted output is not canonical: %s", a)
		}
	}
}
