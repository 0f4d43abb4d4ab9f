package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/internal/contracttest"
	"arxi.dev/arxi/pkg/signing"
	"github.com/rogpeppe/go-internal/testscript"
)

// childEnv makes the test binary run arxi-sidecar itself, so that tests
// start, signal and kill it as the real process it is.
const childEnv = "ARXI_TEST_SIDECAR_CHILD"

// childFSize, when set, is the child's RLIMIT_FSIZE in bytes: writes past
// it fail with EFBIG, as on a full disk.
const childFSize = "ARXI_TEST_SIDECAR_FSIZE"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		clitest.LimitFileSize(childFSize)
		if path := os.Getenv("ARXI_TEST_CPUPROFILE"); path != "" {
			f, _ := os.Create(path)
			pprof.StartCPUProfile(f)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			stop()
			pprof.StopCPUProfile()
			f.Close()
			if path := os.Getenv("ARXI_TEST_MEMPROFILE"); path != "" {
				if f, err := os.Create(path); err == nil {
					pprof.Lookup("allocs").WriteTo(f, 0)
					f.Close()
				}
			}
			os.Exit(code)
		}
		main()
		return
	}
	testscript.Main(removingTools{m}, map[string]func(){"arxi-sidecar": main})
}

// removingTools runs the tests and then removes the tools they built.
type removingTools struct{ m *testing.M }

func (r removingTools) Run() int {
	code := r.m.Run()
	if toolsDir != "" {
		os.RemoveAll(toolsDir)
	}
	return code
}

// TestScripts runs testdata/*.txtar; waitsocket waits for a sidecar's
// socket to answer /startup with 200.
func TestScripts(t *testing.T) {
	clitest.Scripts(t, testscript.Params{Cmds: map[string]func(*testscript.TestScript, bool, []string){
		"waitsocket": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 1 {
				ts.Fatalf("usage: waitsocket PATH")
			}
			c := unixClient(ts.MkAbs(args[0]))
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if r, err := c.Get("http://sidecar/startup"); err == nil {
					r.Body.Close()
					if r.StatusCode == 200 {
						return
					}
				}
			}
			ts.Fatalf("the sidecar on %s did not start", args[0])
		},
	}})
}

func unixClient(path string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}}}
}

// tools builds arxi-bundle and arxi-verify once, for byte comparisons
// with the sidecar, into toolsDir, which TestMain removes.
var tools = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "arxi-sidecar-tools-")
	if err != nil {
		return "", err
	}
	toolsDir = dir
	out, err := exec.Command("go", "build", "-o", dir, "arxi.dev/arxi/cmd/arxi-bundle", "arxi.dev/arxi/cmd/arxi-verify").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build tools: %v\n%s", err, out)
	}
	return dir, nil
})

func tool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	dir, err := tools()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(dir, name), args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

var toolsDir string

// proc is a running arxi-sidecar.
type proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	dir    string
	base   string // http://host:port, or http://sidecar for a socket
	client *http.Client
	token  string

	mu    sync.Mutex
	log   []string
	addr  chan string
	ended chan struct{}
	code  int
}

// env is a directory with a configuration for a sidecar.
type env struct {
	dir, config, token string
	childEnv           []string // more environment of the sidecar's process
}

// newEnv writes sidecar.toml for transport "unix" or "tcp" (token auth
// on TCP, open on the socket unless extra says otherwise) with a SQLite
// store, and a token file; extra is TOML appended to the sections, or
// replacing sections log and auth.
func newEnv(t testing.TB, transport string, extra map[string]string) *env {
	t.Helper()
	dir := t.TempDir()
	tok := make([]byte, 24)
	rand.Read(tok)
	e := &env{dir: dir, config: filepath.Join(dir, "sidecar.toml"), token: fmt.Sprintf("%x", tok)}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(e.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{
		"transport": `mode = "unix"` + "\n" + `unix_socket = "arxi.sock"`,
		"auth":      `mode = "open"`,
		"store":     `path = "arxi.db"`,
		"recorder":  `recorder_id = "e2e"`,
		"log":       `level = "debug"`,
	}
	if transport == "tcp" {
		sections["transport"] = `mode = "tcp"` + "\n" + `host = "127.0.0.1"` + "\n" + `port = 0`
		sections["auth"] = `mode = "token"` + "\n" + `token_file = "token"`
	}
	for k, v := range extra {
		if k == "log" || k == "auth" {
			sections[k] = v
			continue
		}
		sections[k] += "\n" + v
	}
	var b strings.Builder
	b.WriteString("schema_version = 1\napi_version = \"v1\"\n")
	for _, k := range []string{"transport", "auth", "store", "recorder", "limits", "idempotency", "probes", "verify", "log", "enterprise"} {
		if s, ok := sections[k]; ok {
			fmt.Fprintf(&b, "[%s]\n%s\n", k, strings.TrimPrefix(s, "\n"))
		}
	}
	if err := os.WriteFile(e.config, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// start runs the sidecar on e and waits until /startup answers 200.
func (e *env) start(t testing.TB) *proc {
	t.Helper()
	return e.startBinary(t, "")
}

// startBinary runs the arxi-sidecar binary bin ("" for this test binary
// as arxi-sidecar) on e and waits until /startup answers 200.
func (e *env) startBinary(t testing.TB, bin string) *proc {
	t.Helper()
	p := &proc{t: t, dir: e.dir, token: e.token, addr: make(chan string, 1), ended: make(chan struct{})}
	if bin == "" {
		p.cmd = exec.Command(os.Args[0], "--config", e.config)
		p.cmd.Env = append(append(os.Environ(), childEnv+"=1"), e.childEnv...)
	} else {
		p.cmd = exec.Command(bin, "--config", e.config)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log = append(p.log, line)
			p.mu.Unlock()
			var m struct {
				Msg, Transport, Address string
			}
			if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "listening" {
				p.addr <- m.Transport + " " + m.Address
			}
		}
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.ended)
	}()
	select {
	case a := <-p.addr:
		mode, addr, _ := strings.Cut(a, " ")
		if mode == "unix" {
			p.base, p.client = "http://sidecar", unixClient(addr)
		} else {
			p.base, p.client = "http://"+addr, &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		}
	case <-p.ended:
		t.Fatalf("the sidecar exited %d before listening:\n%s", p.code, p.logText())
	case <-time.After(60 * time.Second):
		t.Fatal("the sidecar did not listen")
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if r, err := p.client.Get(p.base + "/startup"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				break
			}
		}
		select {
		case <-p.ended:
			t.Fatalf("the sidecar exited %d while starting:\n%s", p.code, p.logText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the sidecar did not start")
		}
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.ended })
	return p
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log, "\n")
}

// stop sends sig and returns the exit status.
func (p *proc) stop(sig syscall.Signal) int {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.ended:
	case <-time.After(60 * time.Second):
		p.t.Fatal("the sidecar did not stop")
	}
	return p.code
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; headers are "Name: value". A JSON body gets
// Content-Type application/json unless a header sets one. On TCP the
// token is sent unless "Authorization: " is given.
func (p *proc) do(method, path string, body []byte, headers ...string) reply {
	p.t.Helper()
	r, err := p.try(method, path, body, headers...)
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}

func (p *proc) try(method, path string, body []byte, headers ...string) (reply, error) {
	req, err := http.NewRequest(method, p.base+path, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	auth := true
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		if k == "Authorization" && v == "" {
			auth = false
			continue
		}
		req.Header.Set(k, v)
	}
	if auth && p.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		// Every response of the real binary is checked against the
		// committed contract.
		contracttest.Load(p.t, "../../docs/generated").Check(p.t, req, resp.StatusCode, resp.Header, b)
	}
	return reply{resp.StatusCode, resp.Header, b}, err
}

// keyFiles writes an encrypted signing key, its passphrase and a trust
// root for it into dir.
func keyFiles(t *testing.T, dir string) {
	t.Helper()
	k, err := signing.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemb, err := k.MarshalPEM([]byte("test passphrase"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "key.pem"), pemb, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pass"), []byte("test passphrase\n"), 0o600)
	root := fmt.Sprintf(`{"keys":[%s],"policy":{"kind":"any_trusted_key"},"trust_root_version":1}`, k.TrustedKey().AppendJCS(nil))
	os.WriteFile(filepath.Join(dir, "root.json"), []byte(root), 0o644)
}
