package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"github.com/google/go-cmp/cmp"
)

// newTest returns a command with a string flag --name, a repeatable
// --tag, a bool -q and a --phases flag taken from the command line only.
func newTest() (*Command, *string, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	c := New("arxi-test", "usage: arxi-test [flags] [FILE]\n", &out, &errb)
	name := c.Flags.String("name", "default", "a `name`")
	c.Flags.Func("tag", "a repeatable `tag`", func(string) error { return nil })
	c.Flags.Bool("q", false, "quiet")
	c.Flags.String("phases", "", "phases")
	c.CommandLineOnly("phases")
	return c, name, &out, &errb
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "arxi.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestParseSources checks where a flag's value comes from: the command
// line over ARXI_ environment variables over the config file's
// [arxi-test] table over its [global] table over the default.
func TestParseSources(t *testing.T) {
	own := writeConfig(t, "[global]\nname = \"from-global\"\n[arxi-test]\nname = \"from-config\"\n")
	global := writeConfig(t, "[global]\nname = \"from-global\"\n[arxi-other]\nname = \"not ours\"\n")
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"default", "", nil, "default"},
		{"global", "", []string{"--config", global}, "from-global"},
		{"own table over global", "", []string{"--config", own}, "from-config"},
		{"env over config", "from-env", []string{"--config", own}, "from-env"},
		{"flag over env and config", "from-env", []string{"--config", own, "--name", "from-flag"}, "from-flag"},
		{"flag after a file", "", []string{"FILE", "--name", "late"}, "late"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("ARXI_NAME", tc.env)
			}
			c, name, _, _ := newTest()
			if err := c.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if *name != tc.want {
				t.Errorf("name = %q, want %q", *name, tc.want)
			}
		})
	}
}

// TestInterspersed: flags may come after positional arguments; "--" ends
// the flags, a bool flag takes no value, "-" is a positional argument.
func TestInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		name string
		pos  []string
	}{
		{[]string{"a.arxb", "--name", "x"}, "x", []string{"a.arxb"}},
		{[]string{"-q", "a", "--name=y", "b"}, "y", []string{"a", "b"}},
		{[]string{"-", "-q"}, "default", []string{"-"}},
		{[]string{"--name", "z", "--", "--name", "-q"}, "z", []string{"--name", "-q"}},
		{[]string{"-name", "single-dash", "f"}, "single-dash", []string{"f"}},
	} {
		c, name, _, _ := newTest()
		if err := c.Parse(tc.args); err != nil {
			t.Fatalf("Parse(%q): %v", tc.args, err)
		}
		if *name != tc.name || !cmp.Equal(c.Args(), tc.pos) {
			t.Errorf("Parse(%q): name %q, args %q; want %q, %q", tc.args, *name, c.Args(), tc.name, tc.pos)
		}
	}
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	big := writeConfig(t, "[arxi-test]\nname = \""+strings.Repeat("x", MaxConfigFile)+"\"\n")
	for _, tc := range []struct {
		name string
		args []string
		code errcode.Code
		msg  string // in stderr
	}{
		{"unknown flag", []string{"--frob"}, errcode.UsageInvalid, "unknown flag --frob"},
		{"mistyped flag", []string{"--nmae", "x"}, errcode.UsageInvalid, "did you mean --name?"},
		{"missing value", []string{"--name"}, errcode.UsageInvalid, "flag needs an argument: --name"},
		{"bad error format", []string{"--error-format", "xml"}, errcode.UsageInvalid, "want text or json"},
		{"missing config", []string{"--config", filepath.Join(dir, "none.toml")}, errcode.ConfigInvalid, "no such file"},
		{"config a directory", []string{"--config", dir}, errcode.ConfigInvalid, "a directory, not a regular file"},
		{"config not TOML", []string{"--config", writeConfig(t, "name = = 1\n")}, errcode.ConfigInvalid, "not a TOML file"},
		{"config key outside a table", []string{"--config", writeConfig(t, "name = \"x\"\n")}, errcode.ConfigInvalid, "a key outside a table"},
		{"config unknown key", []string{"--config", writeConfig(t, "[arxi-test]\nnmae = 1\n")}, errcode.ConfigInvalid, "did you mean name?"},
		{"config unknown table", []string{"--config", writeConfig(t, "[test]\nname = \"x\"\n")}, errcode.ConfigInvalid, "unknown table [test]"},
		{"config bad value", []string{"--config", writeConfig(t, "[arxi-test]\nq = \"loud\"\n")}, errcode.ConfigInvalid, `invalid value "loud"`},
		{"config sets config", []string{"--config", writeConfig(t, "[arxi-test]\nconfig = \"x\"\n")}, errcode.ConfigInvalid, "cannot be set in a config file"},
		{"config too large", []string{"--config", big}, errcode.ConfigInvalid, "exceeds the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, out, errb := newTest()
			err := c.Parse(tc.args)
			if got := errcode.CodeOf(err); got != tc.code {
				t.Fatalf("Parse(%q) = %v, want code %s", tc.args, err, tc.code)
			}
			if got := c.Exit(err); got != errcode.ExitUsage {
				t.Errorf("exit = %d, want 2", got)
			}
			if e := errb.String(); !strings.HasPrefix(e, "arxi-test: error: ") || !strings.Contains(e, string(tc.code)+": ") || !strings.Contains(e, tc.msg) {
				t.Errorf("stderr = %q, want %s and %q", e, tc.code, tc.msg)
			}
			if out.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", out.String())
			}
		})
	}
}

// TestConfigSections: keys of other binaries' tables are ignored, and so
// are [global] keys the binary has no flag for; a subcommand ignores its
// binary's keys it has no flag for; an array sets a repeatable flag once
// per element.
func TestConfigSections(t *testing.T) {
	cfg := writeConfig(t, `[global]
store = "arxi.db"
name = "global"
[arxi-test]
tag = ["a", "b"]
[arxi-verify]
strict = true
frob = 1
`)
	var tags []string
	c, name, _, _ := newTest()
	c.Flags.Func("tags", "", nil) // unused
	if err := c.Parse([]string{"--config", cfg}); err != nil {
		t.Fatal(err)
	}
	if *name != "global" {
		t.Errorf("name = %q", *name)
	}
	sub := New("arxi-test sub", "usage\n", io.Discard, io.Discard)
	sub.Flags.Func("tag", "", func(s string) error { tags = append(tags, s); return nil })
	if err := sub.Parse([]string{"--config", writeConfig(t, "[arxi-test]\ntag = [\"a\", \"b\"]\nname = \"main command only\"\n")}); err != nil {
		t.Fatalf("subcommand: %v", err)
	}
	if !cmp.Equal(tags, []string{"a", "b"}) {
		t.Errorf("tags = %q", tags)
	}
}

// TestCommandLineOnly: a flag that lowers assurance is refused from the
// environment and from every config table (SPEC §10).
func TestCommandLineOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string
		cfg  string
	}{
		{"environment", "1,3", ""},
		{"own table", "", "[arxi-test]\nphases = \"1\"\n"},
		{"global table", "", "[global]\nphases = \"1\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("ARXI_PHASES", tc.env)
			var args []string
			if tc.cfg != "" {
				args = []string{"--config", writeConfig(t, tc.cfg)}
			}
			c, _, _, _ := newTest()
			err := c.Parse(args)
			if e, ok := errcode.As(err); !ok || e.Code != errcode.ConfigInvalid || !strings.Contains(err.Error(), "command line only") {
				t.Fatalf("Parse = %v, want config.invalid: command line only", err)
			}
		})
	}
	c, _, _, _ := newTest()
	if err := c.Parse([]string{"--phases", "1,3"}); err != nil || c.Flags.Lookup("phases").Value.String() != "1,3" {
		t.Errorf("--phases on the command line: %v", err)
	}
}

func TestSuggest(t *testing.T) {
	flags := []string{"trust-root", "phases", "strict", "max-envelopes", "o", "v", "store"}
	for word, want := range map[string]string{
		"trust-rot": "trust-root", "trsut-root": "trust-root", "phase": "phases", "stirct": "strict",
		"max-envelope": "max-envelopes", "stroe": "store", "trust": "trust-root",
		"x": "", "frobnicate": "", "st": "", "quiet": "",
	} {
		if got := Suggest(word, flags); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", word, got, want)
		}
	}
	if got := Suggest("keygne", []string{"help", "version", "keygen", "pubkey"}); got != "keygen" {
		t.Errorf("Suggest(keygne) = %q", got)
	}
}

func TestHelpAndVersion(t *testing.T) {
	c, _, out, errb := newTest()
	if err := c.Parse([]string{"--help"}); !errors.Is(err, ErrHelp) || c.Exit(err) != 0 {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"usage: arxi-test", "\n  --name name\n", "\n  -q\n", "(default default)", "[command line only]", "ARXI_MAX_LINE_BYTES", "[global]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	if errb.Len() != 0 {
		t.Errorf("stderr %q", errb)
	}
	c, _, out, _ = newTest()
	if err := c.Parse([]string{"--version"}); !errors.Is(err, ErrHelp) {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "arxi-test "+Version+" (Arxi spec v1; module ") {
		t.Errorf("--version = %q", out)
	}
	c, _, out, _ = newTest()
	c.Parse([]string{"--version", "--json"})
	var b BuildInfo
	if err := json.Unmarshal(out.Bytes(), &b); err != nil || b.Tool != "arxi-test" || b.Version != Version || b.SpecVersion != SpecVersion || b.GoVersion == "" {
		t.Errorf("--version --json = %s (%v)", out, err)
	}
}

func TestReportJSON(t *testing.T) {
	c, _, _, errb := newTest()
	if err := c.Parse([]string{"--error-format", "json"}); err != nil {
		t.Fatal(err)
	}
	code := c.Exit(&errcode.Error{Code: errcode.InputMalformedJSON, Line: 3, Msg: "bad"})
	want := `{"code":"input.malformed_json","field":null,"hint":null,"level":"error","line":3,"message":"bad","path":null,"segment_id":null,"sequence":null,"tool":"arxi-test"}` + "\n"
	if code != errcode.ExitRejected || errb.String() != want {
		t.Errorf("exit %d, stderr\n%s\nwant\n%s", code, errb.String(), want)
	}
	// Every diagnostic is JSON, warnings and notes too, and so is an
	// error in parsing the flags, wherever --error-format is.
	errb.Reset()
	c.Warn("careful")
	c.Note("fyi")
	wantNotes := `{"code":null,"field":null,"hint":null,"level":"warning","line":null,"message":"careful","path":null,"segment_id":null,"sequence":null,"tool":"arxi-test"}` + "\n" +
		`{"code":null,"field":null,"hint":null,"level":"info","line":null,"message":"fyi","path":null,"segment_id":null,"sequence":null,"tool":"arxi-test"}` + "\n"
	if errb.String() != wantNotes {
		t.Errorf("notes:\n%s\nwant\n%s", errb, wantNotes)
	}
	c, _, _, errb = newTest()
	c.Exit(c.Parse([]string{"--frob", "--error-format=json"}))
	var obj map[string]any
	if err := json.Unmarshal(errb.Bytes(), &obj); err != nil || obj["code"] != "usage.invalid" {
		t.Errorf("parse error as JSON: %s (%v)", errb, err)
	}
}

func TestExitInterrupted(t *testing.T) {
	c, _, _, errb := newTest()
	err := errcode.Wrap(errcode.IOFailed, context.Canceled, "interrupted after line 3")
	if code := c.Exit(err); code != ExitInterrupted || errb.Len() != 0 {
		t.Errorf("Exit(interrupt) = %d, stderr %q; want 130 and nothing", code, errb)
	}
}

// TestProgram: help and version subcommands, subcommand dispatch, and
// "did you mean" for a mistyped subcommand that is not a file.
func TestProgram(t *testing.T) {
	ran := ""
	runner := func(name string) RunFunc {
		return func(_ context.Context, args []string, _ io.Reader, stdout, _ io.Writer) int {
			ran = name + " " + strings.Join(args, " ")
			return 0
		}
	}
	p := &Program{Name: "arxi-test", Main: runner("main"), Subcommands: []Subcommand{{Name: "keygen", Run: runner("keygen")}}}
	t.Chdir(t.TempDir())
	os.WriteFile("keygn", nil, 0o600) // a file of that name is the main command's
	for _, tc := range []struct {
		args []string
		code int
		ran  string
		out  string // stdout or stderr contains
	}{
		{[]string{"keygen", "-o", "k"}, 0, "keygen -o k", ""},
		{[]string{"file.arxb"}, 0, "main file.arxb", ""},
		{[]string{"help"}, 0, "main --help", ""},
		{[]string{"help", "keygen"}, 0, "keygen --help", ""},
		{[]string{"help", "kegen"}, 2, "", "did you mean arxi-test keygen?"},
		{[]string{"version"}, 0, "", "arxi-test " + Version},
		{[]string{"version", "--json"}, 0, "", `"tool":"arxi-test"`},
		{[]string{"version", "--frob"}, 2, "", "usage.invalid"},
		{[]string{"kegen", "-o", "k"}, 2, "", "did you mean arxi-test keygen?"},
		{[]string{"keygn"}, 0, "main keygn", ""},
	} {
		ran = ""
		var out, errb bytes.Buffer
		code := p.Run(context.Background(), tc.args, nil, &out, &errb)
		if code != tc.code || ran != tc.ran || !strings.Contains(out.String()+errb.String(), tc.out) {
			t.Errorf("Run(%q) = %d, ran %q, output %q; want %d, %q, %q", tc.args, code, ran, out.String()+errb.String(), tc.code, tc.ran, tc.out)
		}
	}
}

func TestLimitFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want evidence.Limits
		err  bool
	}{
		{nil, evidence.DefaultLimits, false},
		{[]string{"--max-line-bytes", "1000", "--max-payload-bytes", "500"}, evidence.Limits{Line: 1000, Payload: 500,
			Attachment: evidence.DefaultLimits.Attachment, AttachmentRefs: evidence.DefaultLimits.AttachmentRefs}, false},
		{[]string{"--max-line-bytes", "0"}, evidence.Limits{}, true},
		{[]string{"--max-payload-bytes", "-1"}, evidence.Limits{}, true},
		{[]string{"--max-line-bytes", "999999999"}, evidence.Limits{}, true},
	} {
		c, _, _, _ := newTest()
		limits := c.LimitFlags()
		if err := c.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		got, err := limits()
		if tc.err {
			if errcode.CodeOf(err) != errcode.ConfigInvalid {
				t.Errorf("%q: err %v, want config.invalid", tc.args, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
}

// TestProgressFrames draws with --progress always: with a total, the
// percentage, the count of the total and the rate; without, the count and
// the rate; the line is erased before a diagnostic, when the total is
// reached and at the end, and nothing is drawn before the delay.
func TestProgressFrames(t *testing.T) {
	defer func(d time.Duration) { progressDelay = d }(progressDelay)
	progressDelay = 0
	const erase = "\x1b[2K\r"
	c, _, _, errb := newTest()
	p, err := c.NewProgress("always", "verifying", "records")
	if err != nil {
		t.Fatal(err)
	}
	p.SetTotal(2000)
	p.Add(500)
	if got := errb.String(); !strings.HasPrefix(got, "\rverifying  25% |") || !strings.Contains(got, "| (500/2000, ") || !strings.Contains(got, " records/s)") {
		t.Errorf("first frame %q", got)
	}
	c.Exit(errcode.New(errcode.InputTooLarge, "boom"))
	if got := errb.String(); !strings.Contains(got, erase+"arxi-test: error: input.too_large: boom\n") {
		t.Errorf("the error does not follow an erased line: %q", got)
	}

	c, _, _, errb = newTest()
	p, _ = c.NewProgress("always", "sealing", "envelopes")
	p.Add(3)
	if got := errb.String(); !strings.Contains(got, " sealing (3, ") || !strings.Contains(got, " envelopes/s)") {
		t.Errorf("a frame without a total: %q", got)
	}
	p.Finish()
	n := errb.Len()
	p.Add(1)
	if got := errb.String(); !strings.HasSuffix(got, erase) || len(got) != n {
		t.Errorf("Finish does not erase the line, or a frame follows it: %q", got)
	}

	c, _, _, errb = newTest()
	p, _ = c.NewProgress("always", "verifying", "records")
	p.SetTotal(10)
	p.Add(10)
	if got := errb.String(); got != "" && !strings.HasSuffix(got, erase) {
		t.Errorf("the bar stays when the total is reached: %q", got)
	}

	progressDelay = time.Hour
	c, _, _, errb = newTest()
	p, _ = c.NewProgress("always", "verifying", "records")
	p.SetTotal(10)
	p.Add(5)
	p.Finish()
	if errb.Len() != 0 {
		t.Errorf("drawn before the delay: %q", errb)
	}

	if _, err := c.NewProgress("loud", "", ""); errcode.CodeOf(err) != errcode.UsageInvalid {
		t.Errorf("--progress loud: %v", err)
	}
	var nilp *Progress
	nilp.Add(1) // a nil Progress does nothing
	nilp.SetTotal(1)
	nilp.Finish()
	// auto stays quiet when stderr is not a terminal.
	c, _, _, errb = newTest()
	p, _ = c.NewProgress("auto", "x", "y")
	p.Add(10)
	if errb.Len() != 0 {
		t.Errorf("auto on a buffer drew %q", errb)
	}
}

func TestTableNotTerminal(t *testing.T) {
	c, _, out, _ := newTest()
	tb := c.Table()
	tb.Row("SEGMENT", "STATE")
	tb.Row("a b", "open")
	if err := tb.Flush(); err != nil || out.String() != "SEGMENT\tSTATE\na b\topen\n" {
		t.Errorf("table = %q, %v", out, err)
	}
}

// FuzzConfig feeds arbitrary bytes as a --config file: Parse never panics
// and fails only with config.invalid or usage.invalid.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{"[arxi-test]\nname = \"x\"\n", "", "name = 1\n", "[global]\nname = \"x\"\ntag = [1, 2]\n",
		"[arxi-test]\nname = [1, 2]\n", "[arxi-test]\nname = \"\\uD800\"\n", "\xff", "[[arxi-test]]\nname = 1\n", "[arxi-test.sub]\nx = 1\n"} {
		f.Add([]byte(s))
	}
	// The bytes go to the config parser as --config would give them:
	// writing a file per input would cost more than parsing it (reading
	// the file is tested apart, with every kind of path).
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, _, _ := newTest()
		c.LimitFlags()
		if err := c.Parse(nil); err != nil {
			t.Fatal(err)
		}
		err := c.applyConfigData("fuzz.toml", data)
		if err == nil {
			return
		}
		if code := errcode.CodeOf(err); code != errcode.ConfigInvalid && code != errcode.UsageInvalid {
			t.Fatalf("code %s: %v", code, err)
		}
	})
}
