package dg

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
)

// syntheticRunpack writes a valid runpack of n triggers, each with a gate
// evaluation, a decision and a scenario.trigger tool call whose hashes
// verify, in DG's own layout, and returns its directory.
func syntheticRunpack(tb testing.TB, n int) string {
	tb.Helper()
	dir := tb.TempDir()
	os.Mkdir(filepath.Join(dir, "artifacts"), 0o755)
	jcs := func(v any) []byte {
		b, err := canonical.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	digest := func(b []byte) map[string]any { return map[string]any{"algorithm": "sha256", "value": hexSum(b)} }
	var triggers, evals, decisions, calls []any
	for i := 1; i <= n; i++ {
		tid := fmt.Sprintf("trigger-%d", i)
		tm := map[string]any{"kind": "unix_millis", "value": 1795341600000 + int64(i)*250}
		event := map[string]any{"correlation_id": fmt.Sprintf("corr-%d", i), "kind": "external_event", "namespace_id": 7, "tenant_id": 3,
			"payload": map[string]any{"kind": "json", "value": map[string]any{"ticket": i, "summary": "deploy request for service alpha", "api_token": "secret-token-value"}},
			"run_id":  "run-bench", "source_id": "ci-pipeline", "time": tm, "trigger_id": tid}
		triggers = append(triggers, map[string]any{"seq": i, "event": event})
		evals = append(evals, map[string]any{"trigger_id": tid, "stage_id": "stage-1",
			"evaluation": map[string]any{"gate_id": "gate-quality", "status": "True", "trace": []any{map[string]any{"condition_id": "coverage", "status": "True"}}},
			"evidence": []any{map[string]any{"condition_id": "coverage", "status": "True", "result": map[string]any{
				"content_type": "application/json", "error": nil, "evidence_anchor": nil, "evidence_ref": map[string]any{"uri": "https://ci.example/run/" + tid},
				"evidence_hash": digest([]byte(tid)), "lane": "verified", "signature": nil, "value": map[string]any{"kind": "json", "value": 0.93}}}}})
		outcome := map[string]any{"kind": "hold", "summary": map[string]any{"policy_tags": []any{}, "retry_hint": "await_evidence", "status": "hold", "unmet_gates": []any{"gate-quality"}}}
		status := "active"
		if i == n {
			outcome, status = map[string]any{"kind": "complete", "stage_id": "stage-1"}, "completed"
		}
		decision := map[string]any{"correlation_id": fmt.Sprintf("corr-%d", i), "decided_at": tm, "decision_id": fmt.Sprintf("decision-%d", i),
			"outcome": outcome, "seq": i, "stage_id": "stage-1", "trigger_id": tid}
		decisions = append(decisions, decision)
		calls = append(calls, map[string]any{"call_id": fmt.Sprintf("call-%d", i), "called_at": tm, "correlation_id": fmt.Sprintf("corr-%d", i),
			"error": nil, "method": "scenario.trigger", "request_hash": digest(jcs(event)),
			"response_hash": digest(jcs(map[string]any{"decision": decision, "packets": []any{}, "status": status}))})
	}
	files := []struct {
		path, kind string
		v          any
	}{
		{specPath, "scenario_spec", map[string]any{"scenario_id": "bench", "spec_version": "1", "stages": []any{}}},
		{triggersPath, "trigger_log", triggers},
		{gateEvalsPath, "gate_eval_log", evals},
		{decisionsPath, "decision_log", decisions},
		{packetsPath, "packet_log", []any{}},
		{submissionsPath, "submission_log", []any{}},
		{toolCallsPath, "tool_transcript", calls},
	}
	var fileHashes, arts []any
	var specHash map[string]any
	for _, f := range files {
		b := jcs(f.v)
		if len(b) > MaxFileSize {
			tb.Fatalf("%s is %d bytes", f.path, len(b))
		}
		os.WriteFile(filepath.Join(dir, filepath.FromSlash(f.path)), b, 0o644)
		fileHashes = append(fileHashes, map[string]any{"path": f.path, "hash": digest(b)})
		arts = append(arts, map[string]any{"artifact_id": f.path, "kind": f.kind, "path": f.path, "content_type": "application/json", "hash": digest(b), "required": true})
		if f.path == specPath {
			specHash = digest(b)
		}
	}
	writeJCS(tb, filepath.Join(dir, "manifest.json"), map[string]any{
		"manifest_version": "v1", "generated_at": map[string]any{"kind": "unix_millis", "value": 1795341600000 + int64(n+1)*250},
		"scenario_id": "bench", "tenant_id": 3, "namespace_id": 7, "run_id": "run-bench", "spec_hash": specHash,
		"hash_algorithm": "sha256", "verifier_mode": "offline_strict",
		"integrity": map[string]any{"file_hashes": fileHashes, "root_hash": digest(jcs(fileHashes))},
		"artifacts": arts,
	})
	return dir
}

func TestSyntheticRunpack(t *testing.T) {
	dir := syntheticRunpack(t, 50)
	out, st, err := mapLines(t, dir, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Envelopes != 1+4*50 {
		t.Errorf("%d envelopes", st.Envelopes)
	}
	if n := bytes.Count(out, []byte(`"request_hash_verified":true,"response_hash_verified":true`)); n != 50 {
		t.Errorf("%d tool calls verified, want 50", n)
	}
	if bytes.Contains(out, []byte("secret-token-value")) {
		t.Error("secret in output")
	}
}

// BenchmarkRunpack measures arxi-dg's work on a runpack of 10,000 triggers,
// gate evaluations, decisions and tool calls: reading and checking it,
// then mapping it to NDJSON lines.
func BenchmarkRunpack(b *testing.B) {
	dir := syntheticRunpack(b, 10000)
	var envs, bytesOut int
	b.ResetTimer()
	for range b.N {
		rp, err := Read(dir)
		if err != nil {
			b.Fatal(err)
		}
		n, st, err := mapTo(rp, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		envs, bytesOut = st.Envelopes, n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runpacks/s")
	b.ReportMetric(float64(b.N*envs)/b.Elapsed().Seconds(), "envelopes/s")
	b.SetBytes(int64(bytesOut))
}

// BenchmarkMap measures mapping alone (the runpack read and checked once).
func BenchmarkMap(b *testing.B) {
	rp, err := Read(syntheticRunpack(b, 10000))
	if err != nil {
		b.Fatal(err)
	}
	var envs int
	b.ResetTimer()
	for range b.N {
		_, st, err := mapTo(rp, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		envs = st.Envelopes
	}
	b.ReportMetric(float64(b.N*envs)/b.Elapsed().Seconds(), "envelopes/s")
}

// BenchmarkSealDGOutput seals the synthetic runpack's envelopes as arxi-seal
// does, for comparison with BenchmarkRunpack: the next stage of the
// pipeline on the same input.
func BenchmarkSealDGOutput(b *testing.B) {
	rp, err := Read(syntheticRunpack(b, 10000))
	if err != nil {
		b.Fatal(err)
	}
	var ndjson bytes.Buffer
	_, st, err := mapTo(rp, &ndjson)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(ndjson.Len()))
	b.ResetTimer()
	for range b.N {
		s, err := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("bench")})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sealing.Stream(context.Background(), s, bytes.NewReader(ndjson.Bytes()), io.Discard, sealing.StreamOptions{SealAtEnd: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*st.Envelopes)/b.Elapsed().Seconds(), "envelopes/s")
}

// mapTo maps rp with the default Config and writes lines as arxi-dg does.
func mapTo(rp *Runpack, w io.Writer) (int, Stats, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	var line []byte
	n := 0
	st, err := rp.Map(Config{}, func(r evidence.Record) error {
		line = append(r.AppendJCS(line[:0]), '\n')
		n += len(line)
		_, err := bw.Write(line)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	return n, st, err
}
