package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/safefile"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store/postgres"
	"github.com/BurntSushi/toml"
)

// Resources are what the configuration's files hold, read and checked by
// Load.
type Resources struct {
	SignKey   *signing.Key       // nil without recorder.sign_key
	TrustRoot *signing.TrustRoot // nil without verify.trust_root
}

// Token returns the bearer token (auth.mode = "token"), or nil.
func (c *Config) Token() []byte { return c.token }

// ControlPlaneToken returns the bearer token sent to the control plane
// (enterprise.mode = "enforce"), or nil.
func (c *Config) ControlPlaneToken() []byte { return c.cpToken }

// Resources returns the key and trust root Load read.
func (c *Config) Resources() Resources { return c.resources }

// Load reads, decodes and checks the configuration file at path, then
// reads and checks the files it names (token, key, passphrase, trust
// root). Relative paths in it are relative to its directory.
func Load(path string) (*Config, error) {
	data, err := safefile.Input{What: "the configuration file", Code: errcode.ConfigInvalid, Max: MaxConfigFile}.Read(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &errcode.Error{Code: errcode.ConfigInvalid, Path: path, Msg: "resolve the configuration file's path", Err: err}
	}
	c, err := Parse(data, filepath.Dir(abs))
	if err != nil {
		return nil, errcode.WithPath(err, path)
	}
	return c, nil
}

// Parse decodes and checks a configuration whose relative paths are
// relative to dir, and reads the files it names.
func Parse(data []byte, dir string) (*Config, error) {
	if len(data) > MaxConfigFile {
		return nil, errcode.New(errcode.ConfigInvalid, "the configuration exceeds %d bytes", MaxConfigFile)
	}
	c := &Config{}
	if err := walk(reflect.ValueOf(c).Elem(), "", setDefault); err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "configuration defaults")
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(c)
	if err != nil {
		return nil, decodeErr(err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		keys := make([]string, len(un))
		for i, k := range un {
			keys[i] = k.String()
		}
		return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: keys[0], Msg: "unknown key (unknown: " + strings.Join(keys, ", ") + ")"}
	}
	defined := func(key string) bool { return md.IsDefined(strings.Split(key, ".")...) }
	if err := walk(reflect.ValueOf(c).Elem(), "", func(key string, f reflect.StructField, v reflect.Value) error {
		return checkTags(key, f, v, defined(key))
	}); err != nil {
		return nil, err
	}
	c.resolvePaths(dir)
	if err := c.check(defined); err != nil {
		return nil, err
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

var lastKey = regexp.MustCompile(`\(last key "([^"]+)"\)`)

// decodeErr turns a TOML error into config.invalid naming the key.
func decodeErr(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		e := &errcode.Error{Code: errcode.ConfigInvalid, Line: int64(pe.Position.Line), Field: pe.LastKey, Msg: pe.Message}
		return e
	}
	msg := err.Error()
	e := &errcode.Error{Code: errcode.ConfigInvalid, Msg: strings.TrimPrefix(msg, "toml: ")}
	if m := lastKey.FindStringSubmatch(msg); m != nil {
		e.Field = m[1]
		if i := strings.Index(msg, "): "); i >= 0 {
			e.Msg = msg[i+3:]
		}
	}
	return e
}

// walk calls fn for every key of the struct v, depth first, with its
// dotted name.
func walk(v reflect.Value, prefix string, fn func(key string, f reflect.StructField, v reflect.Value) error) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("toml")
		if name == "" || !f.IsExported() {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeFor[Duration]() {
			if err := walk(fv, key, fn); err != nil {
				return err
			}
			continue
		}
		if err := fn(key, f, fv); err != nil {
			return err
		}
	}
	return nil
}

func setDefault(key string, f reflect.StructField, v reflect.Value) error {
	d, ok := f.Tag.Lookup("default")
	if !ok {
		return nil
	}
	switch p := v.Addr().Interface().(type) {
	case *string:
		*p = d
	case *int:
		n, err := strconv.Atoi(d)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		*p = n
	case *bool:
		*p = d == "true"
	case *Duration:
		return p.UnmarshalText([]byte(d))
	default:
		return fmt.Errorf("%s: no default for %T", key, p)
	}
	return nil
}

// checkTags applies a key's tag rules. An optional key without a default
// that is absent is not checked.
func checkTags(key string, f reflect.StructField, v reflect.Value, defined bool) error {
	bad := func(format string, args ...any) error {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: key, Msg: fmt.Sprintf(format, args...)}
	}
	if f.Tag.Get("required") == "true" && !defined {
		return bad("required key is missing")
	}
	_, hasDefault := f.Tag.Lookup("default")
	if !defined && !hasDefault {
		return nil
	}
	if enum, ok := f.Tag.Lookup("enum"); ok {
		vals := strings.Split(enum, "|")
		s := fmt.Sprint(v.Interface())
		if !slices.Contains(vals, s) {
			return bad("%q is not one of %s", s, strings.Join(vals, ", "))
		}
	}
	lo, hasLo := f.Tag.Lookup("min")
	hi, hasHi := f.Tag.Lookup("max")
	switch p := v.Addr().Interface().(type) {
	case *int:
		if n, _ := strconv.Atoi(lo); hasLo && *p < n {
			return bad("%d is below the minimum %s", *p, lo)
		}
		if n, _ := strconv.Atoi(hi); hasHi && *p > n {
			return bad("%d is above the maximum %s", *p, hi)
		}
	case *Duration:
		if d, _ := time.ParseDuration(lo); hasLo && p.Duration < d {
			return bad("%s is below the minimum %s", p, lo)
		}
		if d, _ := time.ParseDuration(hi); hasHi && p.Duration > d {
			return bad("%s is above the maximum %s", p, hi)
		}
	}
	return nil
}

func (c *Config) resolvePaths(dir string) {
	_ = walk(reflect.ValueOf(c).Elem(), "", func(key string, f reflect.StructField, v reflect.Value) error {
		if k := f.Tag.Get("kind"); (k == "path" || k == "secret") && v.String() != "" && !filepath.IsAbs(v.String()) {
			v.SetString(filepath.Join(dir, v.String()))
		}
		return nil
	})
}

// unixPathMax is the longest socket path the kernel takes (sun_path less
// its terminating NUL).
const unixPathMax = 107

// check applies the rules that combine keys, and checks the files named.
func (c *Config) check(defined func(string) bool) error {
	bad := func(key, format string, args ...any) error {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: key, Msg: fmt.Sprintf(format, args...)}
	}
	only := func(key, when string) error {
		if defined(key) {
			return bad(key, "is only for %s", when)
		}
		return nil
	}
	t := &c.Transport
	loopback := false
	switch t.Mode {
	case "unix":
		loopback = true
		if t.UnixSocket == "" {
			return bad("transport.unix_socket", "required with transport.mode = \"unix\"")
		}
		if len(t.UnixSocket) > unixPathMax {
			return bad("transport.unix_socket", "the path is %d bytes; a socket path holds at most %d", len(t.UnixSocket), unixPathMax)
		}
		if err := dirExists(filepath.Dir(t.UnixSocket)); err != nil {
			return bad("transport.unix_socket", "%v", err)
		}
		if st, err := os.Lstat(t.UnixSocket); err == nil && st.Mode().Type() != fs.ModeSocket {
			return bad("transport.unix_socket", "exists and is not a socket")
		}
		for _, k := range []string{"transport.host", "transport.port"} {
			if err := only(k, `transport.mode = "tcp"`); err != nil {
				return err
			}
		}
	case "tcp":
		ip := net.ParseIP(t.Host)
		if ip == nil {
			return bad("transport.host", "%q is not an IP address (give 127.0.0.1 or ::1 for loopback)", t.Host)
		}
		loopback = ip.IsLoopback()
		if err := only("transport.unix_socket", `transport.mode = "unix"`); err != nil {
			return err
		}
	}
	a := &c.Auth
	switch a.Mode {
	case "open":
		if !loopback {
			return bad("auth.mode", `"open" is allowed only on a Unix socket or a loopback host; %s needs auth.mode = "token"`, t.Host)
		}
		if err := only("auth.token_file", `auth.mode = "token"`); err != nil {
			return err
		}
	case "token":
		if a.TokenFile == "" {
			return bad("auth.token_file", `required with auth.mode = "token"`)
		}
	}
	s := &c.Store
	switch s.Backend {
	case "sqlite":
		if s.Path == "" {
			return bad("store.path", `required with store.backend = "sqlite"`)
		}
		if err := dirExists(filepath.Dir(s.Path)); err != nil {
			return bad("store.path", "%v", err)
		}
		if st, err := os.Stat(s.Path); err == nil && !st.Mode().IsRegular() {
			return bad("store.path", "exists and is not a regular file")
		}
	case "postgres":
		if s.URL == "" {
			return bad("store.url", `required with store.backend = "postgres"`)
		}
		if _, err := postgres.ParseURL(s.URL); err != nil {
			e, _ := errcode.As(err)
			return &errcode.Error{Code: errcode.ConfigInvalid, Field: "store.url", Msg: e.Msg, Hint: e.Hint}
		}
		if err := only("store.path", `store.backend = "sqlite"`); err != nil {
			return err
		}
	case "memory":
		if err := only("store.path", `store.backend = "sqlite"`); err != nil {
			return err
		}
	}
	if s.Backend != "postgres" {
		if err := only("store.url", `store.backend = "postgres"`); err != nil {
			return err
		}
	}
	r := &c.Recorder
	if _, err := scalar.ParseLabel(r.RecorderID); err != nil {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: "recorder.recorder_id", Msg: errMsg(err)}
	}
	if r.SignKey == "" {
		if err := only("recorder.sign_passphrase_file", "recorder.sign_key"); err != nil {
			return err
		}
	}
	if r.SignKey != "" && r.Profile == "secure" && r.SignPassphraseFile == "" {
		return bad("recorder.sign_passphrase_file", `required with recorder.sign_key in profile "secure" (keys are encrypted)`)
	}
	return c.checkEnterprise(defined)
}

// checkEnterprise applies the rules of the [enterprise] section, which
// fail closed: enforce mode without every piece it needs is refused, and
// the section's other keys are refused with mode off.
func (c *Config) checkEnterprise(defined func(string) bool) error {
	bad := func(key, format string, args ...any) error {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: key, Msg: fmt.Sprintf(format, args...)}
	}
	e := &c.Enterprise
	if e.Mode != "enforce" {
		for _, k := range []string{"enterprise.control_plane_url", "enterprise.control_plane_token_file", "enterprise.require_writer_lease", "enterprise.decision_timeout"} {
			if defined(k) {
				return bad(k, `is only for enterprise.mode = "enforce"`)
			}
		}
		if c.Probes.ReadinessMode == "storage_and_enterprise" {
			return bad("probes.readiness_mode", `"storage_and_enterprise" needs enterprise.mode = "enforce"`)
		}
		return nil
	}
	if c.Auth.Mode != "token" {
		return bad("enterprise.mode", `"enforce" needs auth.mode = "token": the control plane's answers are only as good as the caller's authentication`)
	}
	if e.ControlPlaneURL == "" {
		return bad("enterprise.control_plane_url", `required with enterprise.mode = "enforce"`)
	}
	if err := checkControlPlaneURL(e.ControlPlaneURL); err != nil {
		return bad("enterprise.control_plane_url", "%v", err)
	}
	if e.ControlPlaneTokenFile == "" {
		return bad("enterprise.control_plane_token_file", `required with enterprise.mode = "enforce"`)
	}
	if e.DecisionTimeout.Duration >= c.Limits.RequestTimeout.Duration {
		return bad("enterprise.decision_timeout", "%s is not below limits.request_timeout (%s)", e.DecisionTimeout, c.Limits.RequestTimeout)
	}
	return nil
}

// checkControlPlaneURL accepts an absolute https URL, or an http URL
// whose host is a loopback IP address (a name is not resolved, as with
// transport.host): the control plane's token never crosses a network in
// the clear. Credentials, a query and a fragment are refused.
func checkControlPlaneURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("scheme %q: want https (or http to a loopback address)", u.Scheme)
	case u.Host == "" || u.Opaque != "":
		return errors.New("not an absolute URL with a host")
	case u.User != nil:
		return errors.New("carries credentials: put the token in control_plane_token_file")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("carries a query or a fragment")
	case u.Scheme == "http":
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("http only to a loopback IP address (127.0.0.1, ::1); %q needs https", u.Hostname())
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not 1 to 65535", p)
		}
	}
	return nil
}

// load reads the files the configuration names.
func (c *Config) load() error {
	if c.Auth.Mode == "token" {
		tok, err := readToken("auth.token_file", c.Auth.TokenFile)
		if err != nil {
			return err
		}
		c.token = tok
	}
	if c.Enterprise.Mode == "enforce" {
		const key = "enterprise.control_plane_token_file"
		tok, err := readToken(key, c.Enterprise.ControlPlaneTokenFile)
		if err != nil {
			return err
		}
		if bytes.Equal(tok, c.token) {
			return &errcode.Error{Code: errcode.ConfigInvalid, Field: key, Msg: "holds the sidecar's own token (auth.token_file): give the control plane a token of its own"}
		}
		c.cpToken = tok
	}
	r := &c.Recorder
	if r.SignKey != "" {
		dev := r.Profile == "dev"
		if err := secretFile("recorder.sign_key", r.SignKey, !dev, !dev); err != nil {
			return err
		}
		var pass []byte
		if r.SignPassphraseFile != "" {
			if err := secretFile("recorder.sign_passphrase_file", r.SignPassphraseFile, !dev, !dev); err != nil {
				return err
			}
			p, err := signing.ReadPassphraseFile(r.SignPassphraseFile, dev)
			if err != nil {
				return asConfig("recorder.sign_passphrase_file", err)
			}
			pass = p
		}
		k, err := signing.KeyFile{Path: r.SignKey, Passphrase: pass, AllowPlain: dev, AllowReadable: dev}.Load()
		if err != nil {
			return asConfig("recorder.sign_key", err)
		}
		c.resources.SignKey = k
	}
	if c.Verify.TrustRoot != "" {
		tr, err := signing.LoadTrustRoot(c.Verify.TrustRoot)
		if err != nil {
			return asConfig("verify.trust_root", err)
		}
		c.resources.TrustRoot = tr
	}
	return nil
}

// readToken reads the bearer token file of key: a regular file of the
// sidecar's user that nobody else may read, holding one token of 32 to
// 4096 bearer characters (RFC 6750 b64token), with at most one trailing
// newline.
func readToken(key, path string) ([]byte, error) {
	if err := secretFile(key, path, true, true); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: key, Msg: "cannot read the token file", Err: unwrapPath(err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxTokenBytes+3))
	if err != nil {
		return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: key, Msg: "cannot read the token file", Err: err}
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	bad := func(msg string) error { return &errcode.Error{Code: errcode.ConfigInvalid, Field: key, Msg: msg} }
	switch {
	case len(data) < MinTokenBytes:
		return nil, bad(fmt.Sprintf("the token is %d bytes; it must be at least %d", len(data), MinTokenBytes))
	case len(data) > MaxTokenBytes:
		return nil, bad(fmt.Sprintf("the token exceeds %d bytes", MaxTokenBytes))
	}
	for i, b := range data {
		ok := b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || strings.IndexByte("-._~+/", b) >= 0 ||
			b == '=' && !bytes.ContainsFunc(data[i:], func(r rune) bool { return r != '=' })
		if !ok {
			return nil, bad(fmt.Sprintf("byte %d of the token is not a bearer token character (A-Z a-z 0-9 - . _ ~ + /, then =)", i))
		}
	}
	return data, nil
}

// secretFile checks a file that holds a secret (the token, the signing
// key, its passphrase): a regular file (after symlinks, as a mounted
// secret often is) that group and others cannot read when strict, and
// owned by the process's user when owner is set, as ssh checks its keys.
// The error names the key and the file.
func secretFile(key, path string, strict, owner bool) error {
	bad := func(msg string) error {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: key, Msg: msg + ": " + path}
	}
	st, err := os.Stat(path)
	if err != nil {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: key, Msg: "cannot use the file", Err: unwrapPath(err)}
	}
	// A regular file, and with strict one only its owner may read: the
	// toolkit's one check of secret files (pkg/safefile).
	if _, err := (safefile.Input{What: "the file", Code: errcode.ConfigInvalid, Private: strict}).Check(path); err != nil {
		e, _ := errcode.As(err)
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: key, Msg: e.Msg + ": " + path, Hint: e.Hint}
	}
	if owner {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
			return bad(fmt.Sprintf("the file is owned by uid %d, not by the sidecar's user (uid %d)", sys.Uid, os.Geteuid()))
		}
	}
	return nil
}

// asConfig recodes an error reading a named file as config.invalid
// naming the key, keeping its message.
func asConfig(key string, err error) error {
	return &errcode.Error{Code: errcode.ConfigInvalid, Field: key, Msg: errMsg(err)}
}

// errMsg is an error's message without its location or code.
func errMsg(err error) string {
	if e, ok := errcode.As(err); ok {
		msg := e.Msg
		if e.Field != "" {
			msg = "field " + strconv.Quote(e.Field) + ": " + msg
		}
		if e.Err != nil {
			msg += ": " + e.Err.Error()
		}
		return string(e.Code) + ": " + msg
	}
	return err.Error()
}

func dirExists(dir string) error {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return errors.New("the directory " + dir + " does not exist")
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
