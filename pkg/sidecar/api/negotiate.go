package api

import (
	"mime"
	"slices"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/errcode"
)

// negotiate checks the request's Content-Type against the route's (415)
// and picks the response media type the Accept header allows (406).
func negotiate(c *Call) error {
	rt, r := c.Route, c.Request
	if rt.Consumes != nil {
		ct := r.Header.Get("Content-Type")
		mt, params, err := mime.ParseMediaType(ct)
		if ct == "" || err != nil || !slices.Contains(rt.Consumes, mt) {
			return errcode.New(errcode.RequestUnsupportedMedia, "Content-Type %q: %s %s takes %s", ct, rt.Method, rt.Path, strings.Join(rt.Consumes, " or "))
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return errcode.New(errcode.RequestUnsupportedMedia, "charset %q: bodies are UTF-8", cs)
		}
	}
	mt, ok := acceptable(r.Header.Values("Accept"), rt.Produces)
	if !ok {
		return errcode.New(errcode.RequestNotAcceptable, "Accept %q allows none of %s", strings.Join(r.Header.Values("Accept"), ", "), strings.Join(rt.Produces, ", "))
	}
	c.Accept = mt
	return nil
}

// acceptable picks the first of offers (in the server's order of
// preference) with the highest quality the Accept values give it, or
// reports that none is acceptable. No Accept header accepts anything.
func acceptable(accept []string, offers []string) (string, bool) {
	if len(accept) == 0 {
		return offers[0], true
	}
	best, bestQ := "", 0.0
	for _, offer := range offers {
		base, _, _ := mime.ParseMediaType(offer)
		q := quality(accept, base)
		if q > bestQ {
			best, bestQ = offer, q
		}
	}
	return best, bestQ > 0
}

// quality is the q value the Accept header gives media type mt: from the
// most specific range that matches it.
func quality(accept []string, mt string) float64 {
	typ, _, _ := strings.Cut(mt, "/")
	q, spec := 0.0, -1
	for _, h := range accept {
		for _, part := range strings.Split(h, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			rng, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			s := -1
			switch {
			case rng == mt:
				s = 2
			case rng == typ+"/*":
				s = 1
			case rng == "*/*":
				s = 0
			}
			if s < 0 || s < spec {
				continue
			}
			v := 1.0
			if qs, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(qs, 64); err == nil && f >= 0 && f <= 1 {
					v = f
				} else {
					v = 0
				}
			}
			if s > spec || v > q {
				q, spec = v, s
			}
		}
	}
	return q
}

// checkQuery refuses query parameters the route does not take, and
// repeated ones.
func checkQuery(c *Call) error {
	q := c.Request.URL.Query()
	for k, vs := range q {
		if !slices.Contains(c.Route.Query, k) {
			return &errcode.Error{Code: errcode.InputUnknownField, Field: k, Msg: "unknown query parameter"}
		}
		if len(vs) > 1 {
			return &errcode.Error{Code: errcode.InputFieldInvalid, Field: k, Msg: "query parameter given more than once"}
		}
	}
	return nil
}
