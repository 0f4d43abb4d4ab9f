package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
)

// newTest returns a command with one string flag, --name, and its buffers.
func newTest() (*Command, *string, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	c := New("arxi-test", "usage: arxi-test [flags]\n", &out, &errb)
	return c, c.Flags.String("name", "default", "a `name`"), &out, &errb
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
// line over ARXI_ environment variables over the --config file over the
// default.
func TestParseSources(t *testing.T) {
	cfg := writeConfig(t, "name = \"from-config\"\n")
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"default", "", nil, "default"},
		{"config", "", []string{"--config", cfg}, "from-config"},
		{"env over config", "from-env", []string{"--config", cfg}, "from-env"},
		{"flag over env and config", "from-env", []string{"--config", cfg, "--name", "from-flag"}, "from-flag"},
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

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	big := writeConfig(t, "name = \""+strings.Repeat("x", MaxConfigFile)+"\"\n")
	for _, tc := range []struct {
		name string
		args []string
		code errcode.Code
		exit int
	}{
		{"unknown flag", []string{"--frob"}, errcode.UsageInvalid, errcode.ExitUsage},
		{"bad error format", []string{"--error-format", "xml"}, errcode.UsageInvalid, errcode.ExitUsage},
		{"missing config", []string{"--config", filepath.Join(dir, "none.toml")}, errcode.ConfigInvalid, errcode.ExitUsage},
		{"config not TOML", []string{"--config", writeConfig(t, "name = = 1\n")}, errcode.ConfigInvalid, errcode.ExitUsage},
		{"config unknown key", []string{"--config", writeConfig(t, "frob = 1\n")}, errcode.ConfigInvalid, errcode.ExitUsage},
		{"config too large", []string{"--config", big}, errcode.ConfigInvalid, errcode.ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, out, errb := newTest()
			err := c.Parse(tc.args)
			if got := errcode.CodeOf(err); got != tc.code {
				t.Fatalf("Parse(%q) = %v, want code %s", tc.args, err, tc.code)
			}
			if got := c.Exit(err); got != tc.exit {
				t.Errorf("exit = %d, want %d", got, tc.exit)
			}
			if e := errb.String(); !strings.HasPrefix(e, "arxi-test: error: ") || !strings.Contains(e, string(tc.code)+": ") {
				t.Errorf("stderr = %q", errb.String())
			}
			if out.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", out.String())
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, arg := range []string{"--help", "--version"} {
		c, _, out, errb := newTest()
		err := c.Parse([]string{arg})
		if !errors.Is(err, ErrHelp) || c.Exit(err) != 0 {
			t.Errorf("%s: err %v", arg, err)
		}
		if out.Len() == 0 || errb.Len() != 0 {
			t.Errorf("%s: stdout %q, stderr %q", arg, out.String(), errb.String())
		}
	}
}

func TestReportJSON(t *testing.T) {
	c, _, _, errb := newTest()
	if err := c.Parse([]string{"--error-format", "json"}); err != nil {
		t.Fatal(err)
	}
	code := c.Exit(&errcode.Error{Code: errcode.InputMalformedJSON, Line: 3, Msg: "bad"})
	want := `{"code":"input.malformed_json","field":null,"hint":null,"line":3,"message":"bad","path":null,"segment_id":null,"sequence":null,"tool":"arxi-test"}` + "\n"
	if code != errcode.ExitRejected || errb.String() != want {
		t.Errorf("exit %d, stderr\n%s\nwant\n%s", code, errb.String(), want)
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

// FuzzConfig feeds arbitrary bytes as a --config file: Parse never panics
// and fails only with config.invalid or usage.invalid.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{"name = \"x\"\n", "", "name = 1\n", "[table]\nname = \"x\"\n", "name = [1, 2]\n", "name = \"\\uD800\"\n", "\xff"} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.toml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, _, _, _ := newTest()
		c.LimitFlags()
		err := c.Parse([]string{"--config", p})
		if err == nil {
			return
		}
		if code := errcode.CodeOf(err); code != errcode.ConfigInvalid && code != errcode.UsageInvalid {
			t.Fatalf("code %s: %v", code, err)
		}
	})
}
