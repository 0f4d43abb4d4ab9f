package dg

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/google/go-cmp/cmp"
)

// The root hashes of the golden runpacks, as DG computed them
// (testdata/dg/README.md).
var goldenRoots = map[string]string{
	"golden_time_after_pass":   "fceca5534f343d4266f89d29a1519a6c0ed2935964ad5757a70ed58661dba228",
	"golden_visibility_packet": "3ae18bfe63690d16e27a68ede93b6143f3d86ed1d510936f18891df133c55721",
}

// goldenVariants are the mappings checked in as golden files. The golden
// files were made by this package (go test ./pkg/dg -run TestGolden
// -update) and reviewed by hand against DG.md §3-4.
var goldenVariants = []struct {
	suffix string
	cfg    func() Config
}{
	{"", func() Config { return Config{} }},
	{".attach", func() Config {
		return Config{
			AttachArtifacts: true,
			LogicalEpoch:    mustTime("2026-11-22T10:00:00Z"),
			Actor:           scalar.MustLabel("dg-control-plane"),
			Environment:     scalar.MustLabel("prod"),
		}
	}},
}

func mustTime(s string) scalar.Timestamp {
	t, err := scalar.ParseTimestamp(s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestGolden(t *testing.T) {
	for _, name := range goldenRunpacks {
		for _, v := range goldenVariants {
			t.Run(name+v.suffix, func(t *testing.T) {
				got, _, err := mapLines(t, runpackDir(name), v.cfg())
				if err != nil {
					t.Fatal(err)
				}
				again, _, err := mapLines(t, runpackDir(name), v.cfg())
				if err != nil || !bytes.Equal(got, again) {
					t.Fatalf("second run differs (err %v)", err)
				}
				path := filepath.Join("testdata", "golden", name+v.suffix+".ndjson")
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); diff != "" {
					t.Errorf("output differs from %s (-want +got):\n%s", path, diff)
				}
			})
		}
	}
}

// TestGoldenLines checks every line written for the golden runpacks: it is
// canonical, it decodes strictly as an unsealed envelope or attachment
// record, and the derived fields follow DG.md §3.
func TestGoldenLines(t *testing.T) {
	for _, name := range goldenRunpacks {
		t.Run(name, func(t *testing.T) {
			cfg := goldenVariants[1].cfg()
			out, st, err := mapLines(t, runpackDir(name), cfg)
			if err != nil {
				t.Fatal(err)
			}
			var envs int
			for i, l := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
				if !canonical.IsCanonical(l) {
					t.Errorf("line %d is not canonical: %s", i+1, l)
				}
				rec, err := evidence.NewDecoder(evidence.DefaultLimits).Sealed(l)
				if err != nil {
					t.Fatalf("line %d does not decode: %v", i+1, err)
				}
				if rec.Kind() == evidence.KindUnsealed {
					envs++
				}
			}
			if envs != st.Envelopes {
				t.Errorf("Stats.Envelopes = %d, want %d", st.Envelopes, envs)
			}
			root := goldenRoots[name]
			for _, m := range envelopes(t, out) {
				p := payload(m)
				if got := p["runpack"].(map[string]any)["root_hash"]; got != root {
					t.Errorf("runpack.root_hash = %v, want %s", got, root)
				}
				if m["adapter_id"] != "decision-gate" || m["actor_id"] != "dg-control-plane" || m["environment_id"] != "prod" {
					t.Errorf("fields = %v %v %v", m["adapter_id"], m["actor_id"], m["environment_id"])
				}
				src := p["source"].(map[string]any)
				n, _ := src["index"].(json.Number).Int64()
				idx := uint64(n)
				claimed, err := scalar.ParseTimestamp(m["claimed_at"].(string))
				if err != nil {
					t.Fatal(err)
				}
				if want := uuid7(claimed, root, src["path"].(string), idx); m["envelope_id"] != want {
					t.Errorf("%s %v[%d]: envelope_id = %v, want %s", m["event_type"], src["path"], idx, m["envelope_id"], want)
				}
			}
		})
	}
}

// uuid7 recomputes DG.md §3's envelope id by hand, independently of
// EnvelopeID and scalar.DeriveUUID7.
func uuid7(t scalar.Timestamp, rootHex, path string, index uint64) string {
	root, _ := hex.DecodeString(rootHex)
	seed := append([]byte("arxi/v1/dg\x00"), root...)
	seed = append(seed, path...)
	seed = append(seed, 0)
	seed = binary.BigEndian.AppendUint64(seed, index)
	h := sha256.Sum256(seed)
	var u [16]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.Time().UnixMilli()))
	copy(u[:6], ms[2:])
	copy(u[6:], h[:10])
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	x := hex.EncodeToString(u[:])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

func TestGoldenMapping(t *testing.T) {
	out, _, err := mapLines(t, runpackDir("golden_visibility_packet"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	envs := envelopes(t, out)
	var got []string
	for _, m := range envs {
		got = append(got, fmt.Sprintf("%s %s %v", m["event_type"], m["claimed_at"], payload(m)["source"].(map[string]any)["index"]))
	}
	want := []string{
		"dg.runpack 1970-01-01T00:00:00.010000000Z 0",
		"dg.trigger 1970-01-01T00:00:00.001000000Z 0",
		"dg.trigger 1970-01-01T00:00:00.002000000Z 1",
		"dg.gate_eval 1970-01-01T00:00:00.002000000Z 0", // the time of trigger-1
		"dg.decision 1970-01-01T00:00:00.001000000Z 0",
		"dg.decision 1970-01-01T00:00:00.002000000Z 1",
		"dg.packet 1970-01-01T00:00:00.001000000Z 0",
		"dg.tool_call 1970-01-01T00:00:00.002000000Z 0",
		"dg.verifier_report 1970-01-01T00:00:00.010000000Z 0", // no generated_at: the manifest's
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("envelopes (-want +got):\n%s", diff)
	}
	for _, m := range envs {
		if m["trace_id"] != "run-2" || m["session_id"] != "golden-visibility" || m["environment_id"] != "tenant-1/namespace-1" || m["actor_id"] != "decision-gate" {
			t.Errorf("%s: trace/session/environment/actor = %v %v %v %v", m["event_type"], m["trace_id"], m["session_id"], m["environment_id"], m["actor_id"])
		}
	}
	rp := payload(envs[0])
	if rp["integrity_status"] != "verified" {
		t.Errorf("integrity_status = %v", rp["integrity_status"])
	}
	manifestRaw, _ := os.ReadFile(filepath.Join(runpackDir("golden_visibility_packet"), "manifest.json"))
	if got := rp["runpack"].(map[string]any)["manifest_sha256"]; got != hexSum(manifestRaw) {
		t.Errorf("manifest_sha256 = %v", got)
	}
	if atts := envs[0]["attachments"].([]any); len(atts) != 1 || atts[0].(map[string]any)["hash"] != "sha256:"+hexSum(manifestRaw) {
		t.Errorf("dg.runpack attachments = %v, want manifest.json", atts)
	}
	// The packet's payload is redacted; record_sha256 still names the
	// original record.
	pk := payload(envs[6])
	if diff := cmp.Diff([]any{"$.payload"}, pk["redactions"]); diff != "" {
		t.Errorf("packet redactions: %s", diff)
	}
}

// TestToolCallLinks: DG's request_hash and response_hash recompute from
// both golden runpacks (request = JCS of the trigger event; response = JCS
// of {"decision","packets","status"}).
func TestToolCallLinks(t *testing.T) {
	for name, want := range map[string]string{
		"golden_time_after_pass":   `{"decision_id":"decision-1","request_hash_verified":true,"response_hash_verified":true,"trigger_id":"trigger-1"}`,
		"golden_visibility_packet": `{"decision_id":"decision-2","request_hash_verified":true,"response_hash_verified":true,"trigger_id":"trigger-1"}`,
	} {
		out, _, err := mapLines(t, runpackDir(name), Config{})
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, l := range bytes.Split(out, []byte("\n")) {
			if bytes.Contains(l, []byte(`"event_type":"dg.tool_call"`)) {
				found = true
				if !bytes.Contains(l, []byte(`"links":`+want)) {
					t.Errorf("%s: tool call line lacks links %s:\n%s", name, want, l)
				}
			}
		}
		if !found {
			t.Errorf("%s: no dg.tool_call envelope", name)
		}
	}
}

// TestToolCallLinksNegative: a tampered hash is reported unverified, not
// dropped, and a failed call verifies its response against the error.
func TestToolCallLinksNegative(t *testing.T) {
	dir := copyRunpack(t, "golden_time_after_pass")
	errObj := map[string]any{"code": "provider_missing", "message": "required evidence providers are missing or blocked", "details": map[string]any{"kind": "message", "info": "x"}}
	errJCS, _ := canonical.Marshal(errObj)
	editJSON(t, dir, "artifacts/tool_calls.json", func(v any) any {
		calls := v.([]any)
		c := calls[0].(map[string]any)
		c["response_hash"].(map[string]any)["value"] = strings.Repeat("0", 64)
		failed := map[string]any{"call_id": "call-2", "called_at": map[string]any{"kind": "logical", "value": 3}, "correlation_id": nil,
			"error": errObj, "method": "scenario.status",
			"request_hash":  map[string]any{"algorithm": "sha256", "value": strings.Repeat("1", 64)},
			"response_hash": map[string]any{"algorithm": "sha256", "value": hexSum(errJCS)}}
		return append(calls, failed)
	})
	rehash(t, dir)
	out, _, err := mapLines(t, dir, Config{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range envelopes(t, out) {
		if m["event_type"] == "dg.tool_call" {
			l, _ := canonical.Marshal(payload(m)["links"])
			got = append(got, string(l))
			if m := payload(m)["record"].(map[string]any)["error"]; m != nil {
				if d := m.(map[string]any)["details"].(map[string]any); d["redacted"] != true {
					t.Errorf("error.details not redacted: %v", d)
				}
			}
		}
	}
	want := []string{
		`{"decision_id":"decision-1","request_hash_verified":true,"response_hash_verified":false,"trigger_id":"trigger-1"}`,
		`{"decision_id":null,"request_hash_verified":false,"response_hash_verified":true,"trigger_id":null}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
}

func TestManifestPathArgument(t *testing.T) {
	a, _, err := mapLines(t, runpackDir("golden_time_after_pass"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := mapLines(t, filepath.Join(runpackDir("golden_time_after_pass"), "manifest.json"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("mapping the manifest path differs from mapping the directory")
	}
}

// TestLogicalEpoch: logical n maps to the epoch plus n ms, unix_millis to
// its instant, and both keep the original Timestamp as dg_time.
func TestLogicalEpoch(t *testing.T) {
	dir := copyRunpack(t, "golden_visibility_packet")
	editJSON(t, dir, "artifacts/triggers.json", func(v any) any {
		tr := v.([]any)[1].(map[string]any)["event"].(map[string]any)
		tr["time"] = map[string]any{"kind": "unix_millis", "value": 1795341600123}
		return v
	})
	rehash(t, dir)
	out, _, err := mapLines(t, dir, Config{LogicalEpoch: mustTime("2026-01-01T00:00:00.5Z")})
	if err != nil {
		t.Fatal(err)
	}
	envs := envelopes(t, out)
	for i, want := range map[int]string{
		0: "2026-01-01T00:00:00.510000000Z", // manifest, logical 10
		1: "2026-01-01T00:00:00.501000000Z", // logical 1
		2: "2026-11-22T10:00:00.123000000Z", // unix_millis
		3: "2026-11-22T10:00:00.123000000Z", // the gate eval takes its trigger's time
	} {
		if got := envs[i]["claimed_at"]; got != want {
			t.Errorf("envelope %d (%s): claimed_at = %v, want %s", i, envs[i]["event_type"], got, want)
		}
	}
	if dt, _ := canonical.Marshal(payload(envs[2])["dg_time"]); string(dt) != `{"kind":"unix_millis","value":1795341600123}` {
		t.Errorf("dg_time = %s", dt)
	}
}

// TestTimeRange: times Arxi cannot record are dg.malformed naming the file
// and field.
func TestTimeRange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		time  map[string]any
		epoch string
		want  string
	}{
		{"negative unix_millis", map[string]any{"kind": "unix_millis", "value": -1}, "", `artifacts/triggers.json: dg.malformed: field "$[0].event.time": unix_millis -1 is outside`},
		{"logical past 9999", map[string]any{"kind": "logical", "value": 1}, "9999-12-31T23:59:59.9995Z", `manifest.json: dg.malformed: field "$.generated_at": logical time 10 from the logical epoch`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyRunpack(t, "golden_time_after_pass")
			editJSON(t, dir, "artifacts/triggers.json", func(v any) any {
				v.([]any)[0].(map[string]any)["event"].(map[string]any)["time"] = tc.time
				return v
			})
			rehash(t, dir)
			cfg := Config{}
			if tc.epoch != "" {
				cfg.LogicalEpoch = mustTime(tc.epoch)
			}
			out, _, err := mapLines(t, dir, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if len(out) != 0 {
				t.Errorf("wrote %d bytes before failing", len(out))
			}
		})
	}
}

// TestMapConcurrent: Map leaves the Runpack unchanged, so concurrent
// mappings (as the sidecar may run) give the same bytes (run with -race).
func TestMapConcurrent(t *testing.T) {
	rp, err := Read(runpackDir("golden_visibility_packet"))
	if err != nil {
		t.Fatal(err)
	}
	outs := make([][]byte, 4)
	done := make(chan struct{})
	for i := range outs {
		go func() {
			defer func() { done <- struct{}{} }()
			outs[i], _, _ = emitAll(func(e Emit) (Stats, error) { return rp.Map(goldenVariants[i%2].cfg(), e) })
		}()
	}
	for range outs {
		<-done
	}
	for i := 2; i < len(outs); i++ {
		if !bytes.Equal(outs[i], outs[i-2]) || len(outs[i]) == 0 {
			t.Errorf("mapping %d differs", i)
		}
	}
}
