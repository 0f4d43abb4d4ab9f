package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/canonical"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"arxi-dg": main})
}

func TestScripts(t *testing.T) {
	golden, err := filepath.Abs("../../pkg/dg/testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	clitest.Scripts(t, testscript.Params{
		Setup: func(env *testscript.Env) error {
			env.Setenv("GOLDEN", golden)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// cprunpack SRC DST copies a runpack directory.
			"cprunpack": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: cprunpack SRC DST")
				}
				ts.Check(copyDir(ts.MkAbs(args[0]), ts.MkAbs(args[1])))
			},
			// replace FILE OLD NEW replaces the first OLD in FILE.
			"replace": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 3 {
					ts.Fatalf("usage: replace FILE OLD NEW")
				}
				p := ts.MkAbs(args[0])
				b, err := os.ReadFile(p)
				ts.Check(err)
				if !bytes.Contains(b, []byte(args[1])) {
					ts.Fatalf("%s does not contain %q", args[0], args[1])
				}
				ts.Check(os.WriteFile(p, bytes.Replace(b, []byte(args[1]), []byte(args[2]), 1), 0o644))
			},
			// rehash DIR makes a runpack's manifest match its files again.
			"rehash": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: rehash DIR")
				}
				ts.Check(rehash(ts.MkAbs(args[0])))
			},
		},
	})
}

func copyDir(src, dst string) error { return os.CopyFS(dst, os.DirFS(src)) }

// rehash recomputes a runpack manifest's file, artifact, spec and root
// hashes from the files on disk.
func rehash(dir string) error {
	mp := filepath.Join(dir, "manifest.json")
	b, err := os.ReadFile(mp)
	if err != nil {
		return err
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return err
	}
	sum := func(rel string) string {
		b, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	}
	integ := m["integrity"].(map[string]any)
	for _, list := range [][]any{integ["file_hashes"].([]any), m["artifacts"].([]any)} {
		for _, e := range list {
			e := e.(map[string]any)
			e["hash"].(map[string]any)["value"] = sum(e["path"].(string))
		}
	}
	m["spec_hash"].(map[string]any)["value"] = sum("artifacts/scenario_spec.json")
	fh, err := canonical.Marshal(integ["file_hashes"])
	if err != nil {
		return err
	}
	root := sha256.Sum256(fh)
	integ["root_hash"].(map[string]any)["value"] = hex.EncodeToString(root[:])
	out, err := canonical.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(mp, out, 0o644)
}

func runDG(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

const runpacks = "../../testdata/dg/"

// TestExitCodes checks run's exit status (SPEC §12) for each class of
// outcome, and that a failure writes nothing on stdout.
func TestExitCodes(t *testing.T) {
	flipped := t.TempDir()
	if err := copyDir(runpacks+"golden_time_after_pass", flipped); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(flipped, "artifacts", "triggers.json")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte("system-tests"), []byte("system-tesTs"), 1), 0o644)
	v2 := t.TempDir()
	copyDir(runpacks+"golden_time_after_pass", v2)
	mp := filepath.Join(v2, "manifest.json")
	b, _ = os.ReadFile(mp)
	os.WriteFile(mp, bytes.Replace(b, []byte(`"v1"`), []byte(`"v2"`), 1), 0o644)
	floatSeq := t.TempDir()
	copyDir(runpacks+"golden_time_after_pass", floatSeq)
	p = filepath.Join(floatSeq, "artifacts", "decisions.json")
	b, _ = os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte(`"seq":1`), []byte(`"seq":1.0`), 1), 0o644)
	if err := rehash(floatSeq); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout bool   // something on stdout
		stderr string // substring of stderr
	}{
		{"golden", []string{runpacks + "golden_time_after_pass"}, 0, true, ""},
		{"golden manifest path", []string{runpacks + "golden_visibility_packet/manifest.json"}, 0, true, ""},
		{"transcript", []string{"--transcript", "../../pkg/dg/testdata/mcp_transcript.json"}, 0, true, ""},
		{"integrity strict", []string{flipped}, 1, false, "dg.integrity: 1 integrity check failed: file_hash artifacts/triggers.json: expected e34a5f6d"},
		{"integrity anomaly", []string{"--integrity", "anomaly", flipped}, 0, true, ""},
		{"unknown manifest version", []string{v2}, 3, false, `manifest.json: dg.malformed: field "$.manifest_version": unsupported manifest version "v2"`},
		{"float seq", []string{floatSeq}, 3, false, `artifacts/decisions.json: dg.malformed: field "$[0].seq": must be an integer, not the float 1.0`},
		{"missing runpack", []string{filepath.Join(t.TempDir(), "nope")}, 4, false, "io.failed"},
		{"agent session as transcript", []string{"--transcript", "../../pkg/dg/testdata/openclaw/pi-mono-v1-before-compaction.lines1_629-642.jsonl"}, 3, false, "dg.malformed"},
		{"no runpack", nil, 2, false, "usage.invalid: want one runpack"},
		{"two runpacks", []string{"a", "b"}, 2, false, "usage.invalid"},
		{"runpack and transcript", []string{"--transcript", "t.json", "a"}, 2, false, "not both"},
		{"bad integrity mode", []string{"--integrity", "lenient", "a"}, 2, false, `config.invalid: field "integrity"`},
		{"other mapping version", []string{"--mapping-version", "arxi-dg/2", "a"}, 2, false, "implements arxi-dg/1, not arxi-dg/2"},
		{"this mapping version", []string{"--mapping-version", "arxi-dg/1", runpacks + "golden_time_after_pass"}, 0, true, ""},
		{"bad epoch", []string{"--logical-epoch", "2026-01-01T00:00:00+01:00", "a"}, 2, false, `field "logical-epoch"`},
		{"bad actor", []string{"--actor", " ", "a"}, 2, false, `field "actor"`},
		{"bad environment", []string{"--environment", "a\tb", "a"}, 2, false, `field "environment"`},
		{"bad max-string", []string{"--max-string", "0", "a"}, 2, false, `field "max-string"`},
		{"bad max-record", []string{"--max-record", "99999999", "a"}, 2, false, `field "max-record"`},
		{"bad redact path", []string{"--redact-path", "event.payload", "a"}, 2, false, `field "redact-path"`},
		{"unknown flag", []string{"--nope"}, 2, false, "usage.invalid"},
		{"help", []string{"--help"}, 0, true, ""},
		{"version", []string{"--version"}, 0, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runDG(tc.args...)
			if code != tc.code {
				t.Fatalf("exit = %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if (stdout != "") != tc.stdout {
				t.Errorf("stdout = %.200q, want output %v", stdout, tc.stdout)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr = %q, want %q", stderr, tc.stderr)
			}
			if tc.code != 0 && !strings.HasPrefix(stderr, "arxi-dg: error: ") {
				t.Errorf("stderr = %q, want arxi-dg: error: …", stderr)
			}
		})
	}
}

// TestGoldenCLI: arxi-dg writes exactly the library's golden output.
func TestGoldenCLI(t *testing.T) {
	for _, tc := range []struct{ golden, args string }{
		{"golden_time_after_pass.ndjson", runpacks + "golden_time_after_pass"},
		{"golden_visibility_packet.attach.ndjson", "--attach-artifacts --logical-epoch 2026-11-22T10:00:00Z --actor dg-control-plane --environment prod " + runpacks + "golden_visibility_packet"},
		{"mcp_transcript.ndjson", "--transcript ../../pkg/dg/testdata/mcp_transcript.json"},
	} {
		code, stdout, stderr := runDG(strings.Fields(tc.args)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.args, code, stderr)
		}
		want, err := os.ReadFile(filepath.Join("../../pkg/dg/testdata/golden", tc.golden))
		if err != nil {
			t.Fatal(err)
		}
		if stdout != string(want) {
			t.Errorf("arxi-dg %s differs from %s", tc.args, tc.golden)
		}
	}
}

func TestErrorFormatJSON(t *testing.T) {
	code, _, stderr := runDG("--error-format", "json", filepath.Join(t.TempDir(), "nope"))
	if code != 4 {
		t.Fatalf("exit %d", code)
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(stderr), &e); err != nil || e["code"] != "io.failed" || e["tool"] != "arxi-dg" {
		t.Errorf("stderr = %s (%v)", stderr, err)
	}
}
