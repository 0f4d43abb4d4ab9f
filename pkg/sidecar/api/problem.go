package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
)

// Problem is an error with members for its RFC 9457 problem document
// beyond the standard ones.
type Problem struct {
	Err     error
	Reasons []string // /ready: why the sidecar is not ready
	Allow   []string // 405: the methods the route takes
	// Receipts are the canonical receipts (SPEC §8) of evidence that is
	// durable although the request failed after writing it
	// (enterprise.hook_failed).
	Receipts []json.RawMessage
}

func (p *Problem) Error() string { return p.Err.Error() }
func (p *Problem) Unwrap() error { return p.Err }

// problemDoc is the problem document: the RFC 9457 members, the Arxi
// code, the correlation id, and the SPEC location of an input error.
type problemDoc struct {
	Code          string            `json:"code"`
	CorrelationID string            `json:"correlation_id"`
	Detail        string            `json:"detail"`
	Field         string            `json:"field,omitempty"`
	Line          int64             `json:"line,omitempty"`
	Reasons       []string          `json:"reasons,omitempty"`
	Receipts      []json.RawMessage `json:"receipts,omitempty"`
	SegmentID     string            `json:"segment_id,omitempty"`
	Sequence      uint64            `json:"sequence,omitempty"`
	Status        int               `json:"status"`
	Title         string            `json:"title"`
	Type          string            `json:"type"`
}

// ownDetail reports whether a server error's detail is shown: its message
// is the sidecar's own sentence about a state the client can act on
// (retry later, retry with the Idempotency-Key), with no cause in it.
func ownDetail(c errcode.Code) bool {
	switch c {
	case errcode.AdmissionSaturated, errcode.ServiceUnavailable, errcode.EnterpriseUnavailable, errcode.EnterpriseHookFailed:
		return true
	}
	return false
}

// StatusOf is the HTTP status of the problem err is answered with.
func StatusOf(err error) int {
	_, info := registered(err)
	return info.HTTP
}

// registered is err's *errcode.Error and its registry entry; errors
// without a registered code are internal.
func registered(err error) (*errcode.Error, errcode.Info) {
	e, ok := errcode.As(err)
	if !ok || !errcode.Known(e.Code) {
		e = &errcode.Error{Code: errcode.Internal}
		if c := errcode.CodeOf(err); errcode.Known(c) {
			e.Code = c
		}
	}
	info, _ := errcode.Lookup(e.Code)
	return e, info
}

// problemOf renders err as a problem document and its status. Errors
// without a registered code are internal. For server errors (5xx) the
// detail is a fixed sentence, but for those of ownDetail: causes, paths
// and messages go to the log.
func problemOf(err error, correlation string) (int, []byte) {
	e, info := registered(err)
	d := problemDoc{Code: string(e.Code), CorrelationID: correlation, Status: info.HTTP, Title: info.Description,
		Type: "urn:arxi:error:" + string(e.Code)}
	switch {
	case info.HTTP >= 500 && !ownDetail(e.Code):
		d.Detail = "the sidecar could not complete the request; its log names the cause under correlation id " + correlation
	default:
		d.Detail = e.Msg
		d.Field, d.Line, d.SegmentID, d.Sequence = e.Field, e.Line, e.Segment, e.Sequence
	}
	if d.Detail == "" {
		d.Detail = info.Description
	}
	var p *Problem
	if errors.As(err, &p) {
		d.Reasons, d.Receipts = p.Reasons, p.Receipts
	}
	b, merr := canonical.Marshal(d)
	if merr != nil {
		b = []byte(`{"code":"internal","status":500,"title":"internal","type":"urn:arxi:error:internal"}`)
	}
	return info.HTTP, append(b, '\n')
}

// writeProblem writes err as application/problem+json with the headers
// its code calls for.
func writeProblem(w http.ResponseWriter, err error, correlation string, retryAfter int) {
	status, body := problemOf(err, correlation)
	h := w.Header()
	h.Set("Content-Type", MediaProblem)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	switch errcode.CodeOf(err) {
	case errcode.AuthInvalidToken:
		challenge := `Bearer realm="arxi"`
		if !errors.Is(err, errNoToken) {
			challenge += `, error="invalid_token"`
		}
		h.Set(HeaderWWWAuthenticate, challenge)
	case errcode.AdmissionSaturated, errcode.ServiceUnavailable, errcode.EnterpriseUnavailable:
		h.Set(HeaderRetryAfter, strconv.Itoa(retryAfter))
	case errcode.RequestMethodNotAllowed:
		var p *Problem
		if errors.As(err, &p) {
			for _, m := range p.Allow {
				h.Add("Allow", m)
			}
		}
	}
	if status == http.StatusRequestTimeout || status == http.StatusRequestEntityTooLarge || status == http.StatusRequestHeaderFieldsTooLarge {
		// The rest of the request may still be on its way: do not read it.
		h.Set("Connection", "close")
	}
	w.WriteHeader(status)
	w.Write(body)
}
