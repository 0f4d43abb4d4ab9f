package main

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// The container (SIDECAR.md §6). No container engine runs where these
// tests run, so the image itself is not built here: the tests parse the
// Dockerfile and the compose file with the parsers Docker uses and assert
// the hardening, and build the exact binary the Dockerfile builds and run
// it with the shipped configuration.

const containerDir = "../../docker/sidecar"

// instruction is one Dockerfile instruction of a stage.
type instruction struct {
	cmd   string   // lowercase: from, run, user, …
	args  []string // the words after it
	flags []string // --interval=… of HEALTHCHECK, --from=… of COPY
	json  bool     // exec form
}

// stages parses the Dockerfile into its stages, ARGs before the first
// FROM in the stage at index 0.
func stages(t *testing.T) [][]instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(containerDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("the Dockerfile does not parse: %v", err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("Dockerfile warnings: %v", res.Warnings)
	}
	out := [][]instruction{nil}
	for _, n := range res.AST.Children {
		in := instruction{cmd: strings.ToLower(n.Value), flags: n.Flags, json: n.Attributes["json"]}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, a.Value)
		}
		if in.cmd == "from" {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], in)
	}
	return out
}

func find(stage []instruction, cmd string) []instruction {
	var found []instruction
	for _, in := range stage {
		if in.cmd == cmd {
			found = append(found, in)
		}
	}
	return found
}

// TestDockerfile: multi-stage, the Go builder pinned to go.mod's version,
// a static CGO_ENABLED=0 build, a distroless static nonroot final stage
// with no shell step, USER nonroot, a HEALTHCHECK through arxi-sidecar
// healthcheck in exec form, and the source, version and revision labels.
func TestDockerfile(t *testing.T) {
	st := stages(t)
	if len(st) < 3 {
		t.Fatalf("%d stages, want a builder and a final stage", len(st)-1)
	}
	args := map[string]string{}
	for _, a := range find(st[0], "arg") {
		k, v, _ := strings.Cut(a.args[0], "=")
		args[k] = v
	}
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if goVersion == nil || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(args["GO_VERSION"]) || args["GO_VERSION"] != string(goVersion[1]) {
		t.Errorf("GO_VERSION = %q, want go.mod's pinned %s", args["GO_VERSION"], goVersion)
	}
	builder := st[1]
	if from := builder[0].args; from[0] != "golang:${GO_VERSION}-bookworm" {
		t.Errorf("builder FROM %v, want golang:${GO_VERSION}-bookworm", from)
	}
	if run := buildCommand(t); !slices.Contains(run, "CGO_ENABLED=0") {
		t.Errorf("the build is not CGO_ENABLED=0: %v", run)
	}
	final := st[len(st)-1]
	if from := final[0].args; len(from) != 1 || from[0] != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final FROM %v, want gcr.io/distroless/static-debian12:nonroot", from)
	}
	if runs := find(final, "run"); len(runs) > 0 {
		t.Errorf("the final stage runs %v: it has no shell", runs)
	}
	if u := find(final, "user"); len(u) != 1 || u[0].args[0] != "nonroot" {
		t.Errorf("USER %v, want nonroot", u)
	}
	hc := find(final, "healthcheck")
	if len(hc) != 1 || len(hc[0].args) < 3 || hc[0].args[0] != "CMD" || !hc[0].json {
		t.Fatalf("HEALTHCHECK %+v, want CMD in exec form", hc)
	}
	if cmd := hc[0].args[1:]; cmd[0] != "/usr/local/bin/arxi-sidecar" || cmd[1] != "healthcheck" {
		t.Errorf("HEALTHCHECK runs %v, want arxi-sidecar healthcheck", cmd)
	}
	for _, in := range slices.Concat(find(final, "entrypoint"), find(final, "cmd")) {
		if !in.json {
			t.Errorf("%s %v is in shell form", in.cmd, in.args)
		}
	}
	labels := map[string]string{}
	for _, l := range find(final, "label") {
		for i := 0; i+1 < len(l.args); i += 3 { // key, value, "="
			labels[l.args[i]] = l.args[i+1]
		}
	}
	for _, k := range []string{"org.opencontainers.image.source", "org.opencontainers.image.version", "org.opencontainers.image.revision"} {
		if labels[k] == "" {
			t.Errorf("no label %s (labels %v)", k, labels)
		}
	}
}

// buildCommand is the builder stage's go build command line as words.
func buildCommand(t *testing.T) []string {
	t.Helper()
	st := stages(t)
	for _, run := range find(st[1], "run") {
		words := strings.Fields(strings.Join(run.args, " "))
		if i := slices.Index(words, "go"); i >= 0 && i+1 < len(words) && words[i+1] == "build" {
			if strings.ContainsAny(strings.Join(words, " "), "&|;$`'\"") {
				t.Fatalf("the build command is not plain words: %v", words)
			}
			return words
		}
	}
	t.Fatal("no go build in the builder stage")
	return nil
}

// service loads compose.yaml with the compose specification's loader.
func service(t *testing.T) (types.ServiceConfig, string) {
	t.Helper()
	path, _ := filepath.Abs(filepath.Join(containerDir, "compose.yaml"))
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  filepath.Dir(path),
		ConfigFiles: []types.ConfigFile{{Filename: path, Content: raw}},
		Environment: types.Mapping{"ARXI_UID": "1234", "ARXI_GID": "5678"},
	}, func(o *loader.Options) { o.SetProjectName("arxi", true) })
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	s, err := p.GetService("arxi-sidecar")
	if err != nil {
		t.Fatal(err)
	}
	return s, string(raw)
}

// TestCompose: the explicit user from ARXI_UID and ARXI_GID, a read-only
// root filesystem, every capability dropped, no new privileges, a tmpfs
// for the socket's directory, the configuration and the token mounted
// read-only and the data read-write at the paths sidecar.toml names, and
// a healthcheck through arxi-sidecar healthcheck on that socket.
func TestCompose(t *testing.T) {
	s, raw := service(t)
	if !strings.Contains(raw, `user: "${ARXI_UID}:${ARXI_GID}"`) || s.User != "1234:5678" {
		t.Errorf("user %q, want ${ARXI_UID}:${ARXI_GID}", s.User)
	}
	if !s.ReadOnly {
		t.Error("read_only is not set")
	}
	if !slices.Equal(s.CapDrop, []string{"ALL"}) {
		t.Errorf("cap_drop %v, want [ALL]", s.CapDrop)
	}
	if len(s.CapAdd) > 0 || s.Privileged {
		t.Errorf("cap_add %v privileged %v", s.CapAdd, s.Privileged)
	}
	if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("security_opt %v lacks no-new-privileges:true", s.SecurityOpt)
	}
	cfg := shippedConfig(t)
	sock := tomlValue(t, cfg, "unix_socket")
	if len(s.Tmpfs) != 1 || !strings.HasPrefix(s.Tmpfs[0], filepath.Dir(sock)+":") {
		t.Errorf("tmpfs %v, want the socket's directory %s", s.Tmpfs, filepath.Dir(sock))
	}
	mounts := map[string]types.ServiceVolumeConfig{}
	for _, v := range s.Volumes {
		mounts[v.Target] = v
	}
	for target, ro := range map[string]bool{"/etc/arxi/sidecar.toml": true, tomlValue(t, cfg, "token_file"): true,
		filepath.Dir(tomlValue(t, cfg, "path")): false} {
		m, ok := mounts[target]
		if !ok {
			t.Errorf("nothing mounted at %s (mounts %v)", target, s.Volumes)
			continue
		}
		if m.ReadOnly != ro {
			t.Errorf("%s: read_only %v, want %v", target, m.ReadOnly, ro)
		}
	}
	hc := s.HealthCheck
	if hc == nil || len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[1] != "/usr/local/bin/arxi-sidecar" || hc.Test[2] != "healthcheck" {
		t.Fatalf("healthcheck %+v, want CMD arxi-sidecar healthcheck", hc)
	}
	if !slices.Contains(hc.Test, sock) {
		t.Errorf("the healthcheck %v does not ask the socket %s", hc.Test, sock)
	}
	st := stages(t)
	dhc := find(st[len(st)-1], "healthcheck")[0].args[1:]
	if !slices.Equal(dhc, hc.Test[1:]) {
		t.Errorf("the Dockerfile's HEALTHCHECK %v and compose's %v differ", dhc, hc.Test[1:])
	}
}

func shippedConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(containerDir, "sidecar.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tomlValue is the quoted value of key in the shipped configuration.
func tomlValue(t *testing.T, cfg, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + key + ` = "([^"]+)"`).FindStringSubmatch(cfg)
	if m == nil {
		t.Fatalf("sidecar.toml has no %s", key)
	}
	return m[1]
}

// TestContainerBinary builds the binary exactly as the Dockerfile's
// builder does, checks that it is static, validates the shipped
// sidecar.toml with it (paths rewritten to a temporary directory), runs
// it: startup, the Dockerfile's health check, a recorded envelope, SIGTERM
// with the shutdown seal, exit 0.
func TestContainerBinary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	words := buildCommand(t)
	i := slices.Index(words, "go")
	buildEnv, args := words[:i], words[i+1:]
	bin := filepath.Join(t.TempDir(), "arxi-sidecar")
	for j, a := range args {
		if a == "-o" {
			args[j+1] = bin
		}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), buildEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary links %v", libs)
	}
	f.Close()

	dir := t.TempDir()
	cfg := shippedConfig(t)
	for old, dst := range map[string]string{"/run/arxi/": "run/", "/etc/arxi/": "etc/", "/var/lib/arxi/": "data/"} {
		os.MkdirAll(filepath.Join(dir, dst), 0o700)
		cfg = strings.ReplaceAll(cfg, `"`+old, `"`+filepath.Join(dir, dst)+"/")
	}
	if strings.Contains(cfg, `"/run/arxi`) || strings.Contains(cfg, `"/etc/arxi`) || strings.Contains(cfg, `"/var/lib/arxi`) {
		t.Fatalf("a path was not rewritten:\n%s", cfg)
	}
	token := "container-test-token-0123456789abcdef"
	os.WriteFile(filepath.Join(dir, "etc", "token"), []byte(token+"\n"), 0o600)
	conf := filepath.Join(dir, "sidecar.toml")
	os.WriteFile(conf, []byte(cfg), 0o644)
	if out, err := exec.Command(bin, "config", "validate", "--config", conf).CombinedOutput(); err != nil {
		t.Fatalf("config validate: %v\n%s", err, out)
	}

	e := &env{dir: dir, config: conf, token: token}
	p := e.startBinary(t, bin)
	sock := filepath.Join(dir, "run", "arxi.sock")
	st := stages(t)
	hc := slices.Clone(find(st[len(st)-1], "healthcheck")[0].args[2:])
	for j, a := range hc {
		if a == "/run/arxi/arxi.sock" {
			hc[j] = sock
		}
	}
	if out, err := exec.Command(bin, hc...).CombinedOutput(); err != nil {
		t.Fatalf("the HEALTHCHECK command %v: %v\n%s", hc, err, out)
	}
	want(t, "record", p.do("POST", "/v1/envelopes", event(0)), 201, `"receipt":{`)
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, p.logText())
	}
	if !strings.Contains(p.logText(), `"reason":"shutdown"`) {
		t.Errorf("no shutdown seal:\n%s", p.logText())
	}
	if out, err := exec.Command(bin, hc...).CombinedOutput(); err == nil {
		t.Errorf("the health check passes after shutdown: %s", out)
	}
}
