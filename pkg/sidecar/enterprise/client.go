package enterprise

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/jsonobj"
	"arxi.dev/arxi/pkg/sidecar/api"
)

// MaxAnswerBytes bounds a control-plane answer's body; a longer one is
// not read, and counts as a malformed answer.
const MaxAnswerBytes = 16 << 10

// client is the bridge's own HTTP client of the control plane: every call
// bounded by the decision timeout (connect, TLS, headers and body), the
// answer by MaxAnswerBytes, no redirect followed, no proxy taken from the
// environment, connections kept alive for the next call.
type client struct {
	http    *http.Client
	base    string // the control plane's URL, without a trailing slash
	auth    string // the Authorization header
	timeout time.Duration
}

func newClient(cfg Config) *client {
	d := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:            d.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: MaxAnswerBytes,
		// One idle connection per request in flight: under load every
		// call finds one open, and none waits for a dial.
		MaxIdleConns:        cfg.Conns,
		MaxIdleConnsPerHost: cfg.Conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // an answer is small; never inflate one
		ForceAttemptHTTP2:   true,
	}
	return &client{
		http: &http.Client{Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		base:    strings.TrimSuffix(cfg.URL, "/"),
		auth:    "Bearer " + string(cfg.Token),
		timeout: cfg.Timeout,
	}
}

// errAnswer marks an answer that arrived but is not one: its status,
// media type, size or body.
var errAnswer = errors.New("not an answer of the control plane's API")

// call makes the call e with the request v (canonical JSON; nil for
// none) and returns the answer's status, media type and body, all within
// the timeout (the request's context bounds the dial, the headers and the
// body alike). A transport failure or a timeout is an error; so is an
// answer longer than MaxAnswerBytes (wrapping errAnswer).
func (c *client) call(ctx context.Context, e *Endpoint, v any) (int, string, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	var body []byte
	if v != nil {
		var err error
		if body, err = canonical.Marshal(v); err != nil {
			return 0, "", nil, err
		}
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, e.Method, c.base+e.Path, rd)
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", api.MediaJSON)
	if body != nil {
		req.Header.Set("Content-Type", api.MediaJSON)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", nil, c.redact(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	switch {
	case err != nil:
		return 0, "", nil, c.redact(err)
	case len(answer) > MaxAnswerBytes:
		return 0, "", nil, fmt.Errorf("%w: the answer exceeds %d bytes", errAnswer, MaxAnswerBytes)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), answer, nil
}

func (c *client) close() { c.http.CloseIdleConnections() }

// redact keeps the token out of a transport error, which may quote what
// the other side sent (a malformed status or header line).
func (c *client) redact(err error) error {
	tok := strings.TrimPrefix(c.auth, "Bearer ")
	if msg := err.Error(); tok != "" && strings.Contains(msg, tok) {
		return errors.New(strings.ReplaceAll(msg, tok, "[redacted]"))
	}
	return err
}

// Decision is the control plane's answer to an authorize call.
type Decision struct {
	Outcome   string // api.DecisionAllow, DecisionDeny or DecisionQuotaExhausted
	Reason    string // the control plane's reason, "" when it gave none
	Remaining int64  // quota.remaining; -1 when the answer has no quota
}

// The keys of the decision and its quota.
var (
	decisionKeys = DecisionSchema.Keys()
	quotaKeys    = quotaSchema.Keys()
)

// answerStyle is the style of the errors of a control-plane answer: a
// document, paths from $.
var answerStyle = &jsonobj.Style{Root: "$", Document: true}

// DecodeDecision decodes an authorize answer's body (DecisionSchema):
// {"decision":"allow"|"deny","reason":…,"quota":{"remaining":N}}, strict
// JSON (SPEC §3's rules: no duplicate key, valid UTF-8), no other member,
// reason and quota optional (or null). A quota with remaining 0 is DecisionQuotaExhausted whatever the
// decision; only an answer that says allow, with no quota or one left,
// allows. Anything else is an error naming the JSON path.
func DecodeDecision(body []byte) (Decision, error) {
	c := canonical.Canonicalizer{MaxDepth: 4}
	canon, err := c.Append(nil, body)
	if err != nil {
		return Decision{}, err
	}
	o, err := answerStyle.Object(jsonobj.Value{Raw: string(canon)})
	if err != nil {
		return Decision{}, err
	}
	if err := o.Only(decisionKeys...); err != nil {
		return Decision{}, err
	}
	d := Decision{Remaining: -1}
	switch v, err := o.String("decision"); {
	case err != nil:
		return Decision{}, err
	case slices.Contains(api.Vocabulary().Answers, v):
		d.Outcome = v
	default:
		return Decision{}, o.Errorf("decision", "must be %q or %q", api.DecisionAllow, api.DecisionDeny)
	}
	if d.Reason, _, err = o.OptString("reason"); err != nil {
		return Decision{}, err
	}
	q, ok, err := o.OptObject("quota")
	if err != nil {
		return Decision{}, err
	}
	if ok {
		if err := q.Only(quotaKeys...); err != nil {
			return Decision{}, err
		}
		n, err := q.Uint("remaining")
		if err != nil {
			return Decision{}, err
		}
		if n > 1<<53 {
			return Decision{}, q.Errorf("remaining", "is above 2^53")
		}
		d.Remaining = int64(n)
		if n == 0 {
			d.Outcome = api.DecisionQuotaExhausted
		}
	}
	return d, nil
}

// isJSON reports whether a Content-Type is application/json.
func isJSON(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	return err == nil && mt == api.MediaJSON
}
