package openclaw

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/openclaw/internal/capturegen"
	"arxi.dev/arxi/pkg/redact"
	"arxi.dev/arxi/pkg/redact/redacttest"
	"github.com/google/go-cmp/cmp"
)

func mustPolicy(t testing.TB, cfg PolicyConfig) *redact.Policy {
	t.Helper()
	p, err := NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNoSecrets: no secret planted in the test data (API keys,
// passwords, tokens, tool arguments and results, file contents, message
// text) reaches the output of any golden input; with --redact=false they
// all do, so the test plants what it thinks it plants.
func TestNoSecrets(t *testing.T) {
	for _, g := range goldens {
		in := readInput(t, g.input)
		out := mustRun(t, in, g.cfg)
		if i := bytes.Index(out, []byte(capturegen.Secret)); i >= 0 {
			t.Errorf("%s: a secret is in the output: …%s…", g.input, out[max(0, i-200):i+20])
		}
		cfg := g.cfg
		cfg.Policy = mustPolicy(t, PolicyConfig{DisableDefaults: true, MaxString: 1 << 20, MaxRecord: redact.MaxMaxRecord})
		plain := mustRun(t, in, cfg)
		// The hello-ok frame's deviceToken is skipped, not mapped.
		want := bytes.Count(in, []byte(capturegen.Secret))
		if g.cfg.Format == Frames {
			want--
		}
		if got := bytes.Count(plain, []byte(capturegen.Secret)); want > 0 && got < want {
			t.Errorf("%s: --redact=false output holds %d secrets, the input %d", g.input, got, want)
		}
	}
}

// original returns, for each envelope, the record it maps: the agent
// payload of its input line, the transcript entry, or the tool call block
// of the entry's content.
func original(t *testing.T, in []byte, src map[string]any) any {
	t.Helper()
	n, _ := src["line"].(json.Number).Int64()
	var v any
	d := json.NewDecoder(bytes.NewReader(bytes.Split(in, []byte("\n"))[n-1]))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	switch {
	case src["format"] == "frames":
		return v.(map[string]any)["payload"]
	case src["block"] != nil:
		i, _ := src["block"].(json.Number).Int64()
		return v.(map[string]any)["message"].(map[string]any)["content"].([]any)[i]
	}
	return v
}

// TestProofs: what a holder of the capture can prove from each envelope:
// record_sha256 is the SHA-256 of the original record's JCS form, every
// marker's sha256 and bytes are those of the JCS form of the value it
// replaced, and redactions lists exactly the markers' pointers.
func TestProofs(t *testing.T) {
	for _, g := range goldens {
		in := readInput(t, g.input)
		for _, m := range lines(t, mustRun(t, in, g.cfg)) {
			p := payload(m)
			src := p["source"].(map[string]any)
			if _, ok := src["record_sha256"]; !ok {
				continue // anomaly and unpaired envelopes
			}
			orig := original(t, in, src)
			if got := redacttest.SHA256(t, orig); got != src["record_sha256"] {
				t.Errorf("%s line %v: record_sha256 = %v, want %s", g.input, src["line"], src["record_sha256"], got)
			}
			paths := redacttest.Markers(t, redact.Pointer, orig, p["record"])
			var listed []string
			for _, x := range p["redactions"].([]any) {
				listed = append(listed, x.(string))
			}
			if diff := cmp.Diff(paths, listed); diff != "" {
				t.Errorf("%s line %v: redactions (-markers +listed):\n%s", g.input, src["line"], diff)
			}
		}
	}
}

func isMarker(v any) bool {
	m, ok := v.(map[string]any)
	return ok && (m["redacted"] == true || m["truncated"] == true) && m["sha256"] != nil
}

// TestSensitiveKeys: the keys redacted at any depth (OPENCLAW.md §6).
func TestSensitiveKeys(t *testing.T) {
	for key, want := range map[string]bool{
		"authorization": true, "Cookie": true, "password": true, "passwd": true, "dbPassword": true, "passphrase": true,
		"client_secret": true, "token": true, "deviceToken": true, "apiKey": true, "api_key": true, "API-KEY": true,
		"credential": true, "credentials": true, "privateKey": true, "private_key": true,
		"totalTokens": false, "tokensBefore": false, "tokenizer": false, "secretary": false, "passwordHint": false, "key": false, "sessionKey": false,
	} {
		in := ndjson(agentFrame("r", 1, "x", `{"deep":[{"`+key+`":"v"}]}`))
		got := strings.Contains(string(mustRun(t, in, Config{})), `"redactions":["/data/deep/0/`+strings.NewReplacer("~", "~0", "/", "~1").Replace(key)+`"]`)
		if got != want {
			t.Errorf("%q redacted = %v, want %v", key, got, want)
		}
	}
}

// TestRedactPath: --redact-path adds RFC 6901 pointers into the record;
// a bad pointer is a config error.
func TestRedactPath(t *testing.T) {
	in := ndjson(agentFrame("r", 1, "lifecycle", `{"phase":"start","a/b":{"n":[1,2,3]},"note":"keep"}`))
	pol := mustPolicy(t, PolicyConfig{Paths: []string{"/data/a~1b/n/1", "/sessionKey", "/data/missing"}})
	p := payload(lines(t, mustRun(t, in, Config{Policy: pol}))[0])
	if diff := cmp.Diff([]any{"/data/a~1b/n/1", "/sessionKey"}, p["redactions"]); diff != "" {
		t.Error(diff)
	}
	pol = mustPolicy(t, PolicyConfig{Paths: []string{""}})
	p = payload(lines(t, mustRun(t, in, Config{Policy: pol}))[0])
	if diff := cmp.Diff([]any{""}, p["redactions"]); diff != "" || !isMarker(p["record"]) {
		t.Errorf("whole record: %v %v", p["redactions"], p["record"])
	}
	for _, bad := range []string{"data/args", "$.data.args", "/a~2"} {
		if _, err := NewPolicy(PolicyConfig{Paths: []string{bad}}); errcode.CodeOf(err) != errcode.ConfigInvalid {
			t.Errorf("NewPolicy(%q) = %v, want config.invalid", bad, err)
		}
	}
}

// TestBounds: strings over --max-string and records over --max-record
// become truncated markers, the same way on every run.
func TestBounds(t *testing.T) {
	in := ndjson(agentFrame("r", 1, "lifecycle", `{"phase":"start","note":"`+strings.Repeat("λ", 40)+`"}`),
		agentFrame("r", 2, "lifecycle", `{"phase":"x","blob":"`+strings.Repeat("x", 600)+`"}`))
	cfg := Config{Policy: mustPolicy(t, PolicyConfig{MaxString: 79})}
	out := mustRun(t, in, cfg)
	if !bytes.Equal(out, mustRun(t, in, cfg)) {
		t.Fatal("bounded output differs between runs")
	}
	ms := lines(t, out)
	note := payload(ms[0])["record"].(map[string]any)["data"].(map[string]any)["note"].(map[string]any)
	if note["truncated"] != true || note["bytes"] != json.Number("82") {
		t.Errorf("note = %v", note)
	}
	cfg = Config{Policy: mustPolicy(t, PolicyConfig{MaxRecord: 300})}
	p := payload(lines(t, mustRun(t, in, cfg))[1])
	rec := p["record"].(map[string]any)
	if rec["truncated"] != true || rec["sha256"] != p["source"].(map[string]any)["record_sha256"] {
		t.Errorf("record = %v, want a truncated marker with the record's hash", rec)
	}
	if diff := cmp.Diff([]any{""}, p["redactions"]); diff != "" {
		t.Error(diff)
	}
}
