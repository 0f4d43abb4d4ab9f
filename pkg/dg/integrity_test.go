package dg

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"github.com/google/go-cmp/cmp"
)

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

// rewrite replaces old by new in the file dir/rel, failing if absent.
func rewrite(t testing.TB, dir, rel, old, new string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", rel, old)
	}
	if err := os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

func manifestEdit(f func(m map[string]any)) func(t testing.TB, dir string) {
	return func(t testing.TB, dir string) {
		editJSON(t, dir, "manifest.json", func(v any) any { f(v.(map[string]any)); return v })
	}
}

func hashValue(v any) map[string]any { return v.(map[string]any)["hash"].(map[string]any) }

// checkKey is what the integrity tests compare: the check and its path.
type checkKey struct{ Check, Path string }

func keys(cs []Check) []checkKey {
	var out []checkKey
	for _, c := range cs {
		out = append(out, checkKey{c.Check, c.Path})
	}
	return out
}

// integrityCases break one DG.md §2 check each, on a copy of
// golden_visibility_packet (rehash makes the manifest match the files
// again where a case must break only one thing).
var integrityCases = []struct {
	name   string
	break_ func(t testing.TB, dir string)
	want   []checkKey
	actual string // a substring of the first check's actual value
}{
	{"flipped byte", func(t testing.TB, dir string) {
		rewrite(t, dir, "artifacts/triggers.json", `"system-tests"`, `"system-tesTs"`)
	}, []checkKey{{CheckFileHash, "artifacts/triggers.json"}}, ""},
	{"wrong root hash", manifestEdit(func(m map[string]any) {
		m["integrity"].(map[string]any)["root_hash"].(map[string]any)["value"] = zeros
	}), []checkKey{{CheckRootHash, "manifest.json"}}, "3ae18bfe"},
	{"artifact hash differs from file hash", manifestEdit(func(m map[string]any) {
		hashValue(m["artifacts"].([]any)[1])["value"] = zeros
	}), []checkKey{{CheckArtifactHash, "artifacts/triggers.json"}}, zeros},
	{"artifact without file hash", func(t testing.TB, dir string) {
		manifestEdit(func(m map[string]any) {
			integ := m["integrity"].(map[string]any)
			fh := integ["file_hashes"].([]any)
			integ["file_hashes"] = fh[1:] // drop scenario_spec.json
		})(t, dir)
		rehash(t, dir)
	}, []checkKey{{CheckArtifactHash, "artifacts/scenario_spec.json"}}, "no integrity.file_hashes entry"},
	{"wrong spec hash", manifestEdit(func(m map[string]any) {
		m["spec_hash"].(map[string]any)["value"] = zeros
	}), []checkKey{{CheckSpecHash, "artifacts/scenario_spec.json"}}, "df1ae4e5"},
	{"duplicate decision", func(t testing.TB, dir string) {
		editJSON(t, dir, "artifacts/decisions.json", func(v any) any {
			ds := v.([]any)
			dup := map[string]any{}
			for k, x := range ds[1].(map[string]any) {
				dup[k] = x
			}
			dup["decision_id"], dup["seq"] = "decision-3", 3
			return append(ds, dup)
		})
		rehash(t, dir)
	}, []checkKey{{CheckDuplicateDecision, "artifacts/decisions.json"}}, `$[1] and $[2] both decide trigger_id "trigger-1"`},
	{"missing required file", func(t testing.TB, dir string) {
		if err := os.Remove(filepath.Join(dir, "artifacts", "packets.json")); err != nil {
			t.Fatal(err)
		}
	}, []checkKey{{CheckFileRead, "artifacts/packets.json"}, {CheckRequiredArtifact, "artifacts/packets.json"}}, "missing"},
	{"required artifact not listed", func(t testing.TB, dir string) {
		manifestEdit(func(m map[string]any) {
			arts := m["artifacts"].([]any)
			m["artifacts"] = append(arts[:5:5], arts[6:]...) // drop submissions.json
		})(t, dir)
	}, []checkKey{{CheckRequiredArtifact, "artifacts/submissions.json"}}, "not listed in artifacts"},
	{"unlisted files", func(t testing.TB, dir string) {
		os.WriteFile(filepath.Join(dir, "artifacts", "extra.json"), []byte("{}"), 0o644)
		os.MkdirAll(filepath.Join(dir, "artifacts", "sub"), 0o755)
		os.WriteFile(filepath.Join(dir, "artifacts", "sub", "x.bin"), []byte("x"), 0o644)
	}, []checkKey{{CheckUnlistedFile, "artifacts/extra.json"}, {CheckUnlistedFile, "artifacts/sub/x.bin"}}, "present, not listed"},
	{"traversal path", func(t testing.TB, dir string) {
		manifestEdit(func(m map[string]any) {
			m["integrity"].(map[string]any)["file_hashes"].([]any)[4].(map[string]any)["path"] = "artifacts/../../packets.json"
			m["artifacts"].([]any)[4].(map[string]any)["path"] = "artifacts/../../packets.json"
		})(t, dir)
		rehash(t, dir)
	}, []checkKey{
		{CheckPath, "artifacts/../../packets.json"},
		{CheckRequiredArtifact, "artifacts/packets.json"},       // the DG path is not listed
		{CheckRequiredArtifact, "artifacts/../../packets.json"}, // required: true, unreadable
		{CheckUnlistedFile, "artifacts/packets.json"},
	}, "has a .. segment"},
	{"absolute and non-ASCII paths", func(t testing.TB, dir string) {
		manifestEdit(func(m map[string]any) {
			fh := m["integrity"].(map[string]any)["file_hashes"].([]any)
			m["integrity"].(map[string]any)["file_hashes"] = append(fh,
				map[string]any{"path": "/etc/passwd", "hash": map[string]any{"algorithm": "sha256", "value": zeros}},
				map[string]any{"path": "artifacts/é.json", "hash": map[string]any{"algorithm": "sha256", "value": zeros}})
		})(t, dir)
		rehash(t, dir)
	}, []checkKey{{CheckPath, "/etc/passwd"}, {CheckPath, "artifacts/é.json"}}, "absolute"},
	{"symlink escape", func(t testing.TB, dir string) {
		p := filepath.Join(dir, "artifacts", "triggers.json")
		b, _ := os.ReadFile(p)
		outside := filepath.Join(t.TempDir(), "triggers.json")
		os.WriteFile(outside, b, 0o644)
		os.Remove(p)
		if err := os.Symlink(outside, p); err != nil {
			t.Skip("no symlinks:", err)
		}
	}, []checkKey{{CheckPath, "artifacts/triggers.json"}, {CheckRequiredArtifact, "artifacts/triggers.json"}}, "escapes the runpack directory"},
	{"oversize file", func(t testing.TB, dir string) {
		big := append(append([]byte("["), bytes.Repeat([]byte(" "), MaxFileSize)...), ']')
		os.WriteFile(filepath.Join(dir, "artifacts", "submissions.json"), big, 0o644)
		rehash(t, dir)
	}, []checkKey{{CheckFileSize, "artifacts/submissions.json"}, {CheckRequiredArtifact, "artifacts/submissions.json"}}, "8388610 bytes"},
	{"gate eval names no trigger", func(t testing.TB, dir string) {
		rewrite(t, dir, "artifacts/gate_evals.json", `"trigger_id":"trigger-1"`, `"trigger_id":"ghost"`)
		rehash(t, dir)
	}, []checkKey{{CheckTriggerReference, "artifacts/gate_evals.json"}}, "$[0] names a trigger that is not there"},
}

func TestIntegrityStrict(t *testing.T) {
	for _, tc := range integrityCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyRunpack(t, "golden_visibility_packet")
			tc.break_(t, dir)
			out, _, err := mapLines(t, dir, Config{})
			var ie *IntegrityError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want *IntegrityError", err)
			}
			if !errors.Is(err, errcode.DGIntegrity) || errcode.ExitStatus(err) != errcode.ExitInvalid {
				t.Errorf("err %v: code %s, exit %d; want dg.integrity, 1", err, errcode.CodeOf(err), errcode.ExitStatus(err))
			}
			if len(out) != 0 {
				t.Errorf("strict mode wrote %d bytes", len(out))
			}
			if diff := cmp.Diff(tc.want, keys(ie.Checks)); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
			if tc.actual != "" && !strings.Contains(ie.Checks[0].Actual+" "+ie.Checks[0].Expected, tc.actual) {
				t.Errorf("first check = %+v, want %q in it", ie.Checks[0], tc.actual)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, c := range ie.Checks {
				if !strings.Contains(msg, c.Check+" "+showPath(c.Path)+": expected ") {
					t.Errorf("error %q does not name check %s %s", msg, c.Check, c.Path)
				}
			}
		})
	}
}

func TestIntegrityAnomaly(t *testing.T) {
	for _, tc := range integrityCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyRunpack(t, "golden_visibility_packet")
			tc.break_(t, dir)
			out, st, err := mapLines(t, dir, Config{Mode: Anomaly})
			if err != nil {
				t.Fatal(err)
			}
			envs := envelopes(t, out)
			if len(envs) != st.Envelopes || len(envs) < 2 {
				t.Fatalf("%d envelopes", len(envs))
			}
			if envs[0]["event_type"] != EventAnomaly || envs[1]["event_type"] != EventRunpack {
				t.Fatalf("first envelopes = %v, %v; want the anomaly, then dg.runpack", envs[0]["event_type"], envs[1]["event_type"])
			}
			var got []checkKey
			for _, c := range payload(envs[0])["checks"].([]any) {
				c := c.(map[string]any)
				got = append(got, checkKey{c["check"].(string), c["path"].(string)})
				for _, k := range []string{"expected", "actual"} {
					if s, _ := c[k].(string); s == "" {
						t.Errorf("check %v has no %s", c, k)
					}
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("anomaly checks (-want +got):\n%s", diff)
			}
			if s := payload(envs[1])["integrity_status"]; s != "anomaly" {
				t.Errorf("integrity_status = %v", s)
			}
			again, _, _ := mapLines(t, dir, Config{Mode: Anomaly})
			if !bytes.Equal(out, again) {
				t.Error("anomaly output differs between runs")
			}
		})
	}
}

// TestIntegrityEveryCheck breaks many checks at once: all are named, in
// order, in the error and in the anomaly envelope.
func TestIntegrityEveryCheck(t *testing.T) {
	dir := copyRunpack(t, "golden_visibility_packet")
	var want []checkKey
	for _, i := range []int{0, 1, 2, 4, 8} { // flipped byte, root, artifact hash, spec hash, unlisted
		integrityCases[i].break_(t, dir)
		want = append(want, integrityCases[i].want...)
	}
	_, _, err := mapLines(t, dir, Config{})
	var ie *IntegrityError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v", err)
	}
	if diff := cmp.Diff(want, keys(ie.Checks)); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), "6 integrity checks failed: ") {
		t.Errorf("err = %v", err)
	}
	out, _, err := mapLines(t, dir, Config{Mode: Anomaly})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(payload(envelopes(t, out)[0])["checks"].([]any)); n != len(want) {
		t.Errorf("anomaly lists %d checks, want %d", n, len(want))
	}
}

// malformedCases are decode failures: dg.malformed (exit 3) naming the
// file and JSON path. manifest says whether Read itself fails (nothing can
// be mapped without a manifest, in either mode).
var malformedCases = []struct {
	name     string
	break_   func(t testing.TB, dir string)
	manifest bool
	want     string
}{
	{"unknown manifest version", func(t testing.TB, dir string) {
		rewrite(t, dir, "manifest.json", `"manifest_version":"v1"`, `"manifest_version":"v2"`)
	}, true, `manifest.json: dg.malformed: field "$.manifest_version": unsupported manifest version "v2": want "v1"`},
	{"unsupported hash algorithm", func(t testing.TB, dir string) {
		rewrite(t, dir, "manifest.json", `"hash_algorithm":"sha256"`, `"hash_algorithm":"blake3"`)
	}, true, `field "$.hash_algorithm": unsupported hash algorithm "blake3"`},
	{"float tenant_id", func(t testing.TB, dir string) {
		rewrite(t, dir, "manifest.json", `"tenant_id":1`, `"tenant_id":1.0`)
	}, true, `manifest.json: dg.malformed: field "$.tenant_id": must be an integer, not the float 1.0`},
	{"zero namespace_id", func(t testing.TB, dir string) {
		rewrite(t, dir, "manifest.json", `"namespace_id":1,"run_id"`, `"namespace_id":0,"run_id"`)
	}, true, `field "$.namespace_id": must be at least 1`},
	{"tenant_id beyond 2^53", func(t testing.TB, dir string) {
		rewrite(t, dir, "manifest.json", `"tenant_id":1`, `"tenant_id":18446744073709551615`)
	}, true, `manifest.json: dg.malformed: invalid JSON: input.number_precision`},
	{"unknown timestamp kind in manifest", func(t testing.TB, dir string) {
		rewrite(t, dir, "manifest.json", `"generated_at":{"kind":"logical"`, `"generated_at":{"kind":"wallclock"`)
	}, true, `field "$.generated_at.kind": unknown Timestamp kind "wallclock": want logical or unix_millis`},
	{"bad digest", func(t testing.TB, dir string) {
		rewrite(t, dir, "manifest.json", `"spec_hash":{"algorithm":"sha256","value":"df1a`, `"spec_hash":{"algorithm":"sha256","value":"DF1A`)
	}, true, `field "$.spec_hash.value": want 64 lowercase hex digits`},
	{"duplicate key", func(t testing.TB, dir string) {
		rewrite(t, dir, "manifest.json", `"run_id":"run-2"`, `"run_id":"run-2","run_id":"run-3"`)
	}, true, `manifest.json: dg.malformed: invalid JSON: input.malformed_json`},
	{"unknown timestamp kind in an artifact", func(t testing.TB, dir string) {
		rewrite(t, dir, "artifacts/triggers.json", `"time":{"kind":"logical","value":2}`, `"time":{"kind":"wallclock","value":2}`)
		rehash(t, dir)
	}, false, `artifacts/triggers.json: dg.malformed: field "$[1].event.time.kind": unknown Timestamp kind "wallclock"`},
	{"float seq", func(t testing.TB, dir string) {
		rewrite(t, dir, "artifacts/decisions.json", `"seq":2`, `"seq":2.0`)
		rehash(t, dir)
	}, false, `artifacts/decisions.json: dg.malformed: field "$[1].seq": must be an integer, not the float 2.0`},
	{"float timestamp value", func(t testing.TB, dir string) {
		rewrite(t, dir, "artifacts/tool_calls.json", `"called_at":{"kind":"logical","value":2}`, `"called_at":{"kind":"logical","value":2.5}`)
		rehash(t, dir)
	}, false, `artifacts/tool_calls.json: dg.malformed: field "$[0].called_at.value": must be an integer, not the float 2.5`},
	{"not JSON", func(t testing.TB, dir string) {
		os.WriteFile(filepath.Join(dir, "artifacts", "packets.json"), []byte(`[{"decision_id":`), 0o644)
		rehash(t, dir)
	}, false, `artifacts/packets.json: dg.malformed: invalid JSON: input.malformed_json`},
	{"record not an object", func(t testing.TB, dir string) {
		os.WriteFile(filepath.Join(dir, "artifacts", "submissions.json"), []byte(`[1]`), 0o644)
		rehash(t, dir)
	}, false, `artifacts/submissions.json: dg.malformed: field "$[0]": must be an object, not a number`},
}

func TestMalformed(t *testing.T) {
	for _, tc := range malformedCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyRunpack(t, "golden_visibility_packet")
			tc.break_(t, dir)
			for _, mode := range []Mode{Strict, Anomaly} {
				out, _, err := mapLines(t, dir, Config{Mode: mode})
				if mode == Anomaly && !tc.manifest {
					// The artifact is skipped and listed.
					if err != nil {
						t.Fatalf("anomaly: %v", err)
					}
					an := payload(envelopes(t, out)[0])
					checks := an["checks"].([]any)
					last := checks[len(checks)-1].(map[string]any)
					if last["check"] != CheckDecode || !strings.Contains(tc.want, last["path"].(string)+": ") {
						t.Errorf("anomaly checks end with %v, want a decode check", last)
					}
					if sk := an["skipped"].([]any); len(sk) != 1 || !strings.HasPrefix(tc.want, sk[0].(string)) {
						t.Errorf("skipped = %v", sk)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("%s: err = %v, want %q", mode, err, tc.want)
				}
				if errcode.ExitStatus(err) != errcode.ExitRejected || strings.Contains(err.Error(), "\n") {
					t.Errorf("err %q: exit %d, want one line and 3", err, errcode.ExitStatus(err))
				}
				if len(out) != 0 {
					t.Errorf("wrote %d bytes", len(out))
				}
			}
		})
	}
}

// TestIntegrityBeforeDecode: a runpack with both a failed check and an
// undecodable artifact is an integrity failure (exit 1) in strict mode.
func TestIntegrityBeforeDecode(t *testing.T) {
	dir := copyRunpack(t, "golden_visibility_packet")
	rewrite(t, dir, "artifacts/decisions.json", `"seq":2`, `"seq":2.0`)
	_, _, err := mapLines(t, dir, Config{})
	if !errors.Is(err, errcode.DGIntegrity) {
		t.Fatalf("err = %v, want dg.integrity", err)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		code errcode.Code
	}{
		{"missing directory", filepath.Join(dir, "nope"), errcode.IOFailed},
		{"missing manifest", dir, errcode.IOFailed},
	} {
		_, err := Read(tc.path)
		if !errors.Is(err, tc.code) {
			t.Errorf("%s: err = %v, want %s", tc.name, err, tc.code)
		}
	}
	big := t.TempDir()
	os.WriteFile(filepath.Join(big, "manifest.json"), bytes.Repeat([]byte(" "), MaxFileSize+1), 0o644)
	if _, err := Read(big); !errors.Is(err, errcode.InputTooLarge) {
		t.Errorf("oversize manifest: err = %v, want input.too_large", err)
	}
}

// TestManyChecksBounded: failures beyond maxListedChecks are counted, not
// listed, in the error and the anomaly envelope.
func TestManyChecksBounded(t *testing.T) {
	dir := copyRunpack(t, "golden_time_after_pass")
	manifestEdit(func(m map[string]any) {
		integ := m["integrity"].(map[string]any)
		fh := integ["file_hashes"].([]any)
		for i := range maxListedChecks + 200 {
			fh = append(fh, map[string]any{"path": fmt.Sprintf("artifacts/missing-%04d.json", i), "hash": map[string]any{"algorithm": "sha256", "value": zeros}})
		}
		integ["file_hashes"] = fh
	})(t, dir)
	rehash(t, dir)
	_, _, err := mapLines(t, dir, Config{})
	var ie *IntegrityError
	if !errors.As(err, &ie) || len(ie.Checks) != maxListedChecks+200 {
		t.Fatalf("err = %.200v", err)
	}
	if !strings.HasSuffix(err.Error(), "actual missing; 200 more failed checks not listed") {
		t.Errorf("err ends %q", err.Error()[len(err.Error())-120:])
	}
	out, _, err := mapLines(t, dir, Config{Mode: Anomaly})
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.SplitN(out, []byte("\n"), 2)[0]
	if _, err := evidence.NewDecoder(evidence.DefaultLimits).Sealed(first); err != nil {
		t.Fatal(err)
	}
	checks := payload(envelopes(t, out)[0])["checks"].([]any)
	if len(checks) != maxListedChecks+1 || checks[maxListedChecks].(map[string]any)["check"] != CheckOmitted {
		t.Errorf("%d checks listed", len(checks))
	}
}
