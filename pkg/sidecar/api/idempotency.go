package api

import (
	"crypto/sha256"
	"strings"
	"sync"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sidecar/recorder"
	"arxi.dev/arxi/pkg/store"
)

// keyLocks holds the idempotency keys of requests still running.
type keyLocks struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (k *keyLocks) lock(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys[key] {
		return false
	}
	if k.keys == nil {
		k.keys = map[string]bool{}
	}
	k.keys[key] = true
	return true
}

func (k *keyLocks) unlock(key string) {
	k.mu.Lock()
	delete(k.keys, key)
	k.mu.Unlock()
}

// requestHash identifies a request for its idempotency key: SHA-256 over
// the method, the path and query, and the SHA-256 of the body.
func requestHash(c *Call) scalar.Digest {
	body := sha256.Sum256(c.Body)
	h := sha256.New()
	h.Write([]byte("arxi/v1/idempotency\x00"))
	h.Write([]byte(c.Request.Method))
	h.Write([]byte{0})
	h.Write([]byte(c.Request.URL.RequestURI()))
	h.Write([]byte{0})
	h.Write(body[:])
	return scalar.Digest(h.Sum(nil))
}

// idempotent is the idempotency stage of mutating routes (SIDECAR.md §3).
// A request with an Idempotency-Key whose response is stored (and not
// expired) gets that response again with Idempotency-Replayed: true, if it
// is the same request; another request with the key is 409
// idempotency.conflict, and one while the first still runs is 409
// idempotency.in_progress. Only a request that wrote evidence has its
// response stored, in the transaction of that evidence; one that failed
// wrote nothing, and its key stays free.
func (s *Server) idempotent(c *Call) (*Reply, error) {
	if !c.Route.Mutating {
		return c.Route.handle(c)
	}
	vs := c.Request.Header.Values(HeaderIdempotencyKey)
	if len(vs) == 0 {
		return c.Route.handle(c)
	}
	if len(vs) > 1 {
		return nil, &errcode.Error{Code: errcode.IdempotencyKeyInvalid, Field: strings.ToLower(HeaderIdempotencyKey), Msg: "the header is given more than once"}
	}
	key := vs[0]
	if err := store.CheckIdempotencyKey(key); err != nil {
		return nil, errcode.InField(err, strings.ToLower(HeaderIdempotencyKey))
	}
	hash := requestHash(c)
	if !s.idem.lock(key) {
		s.metrics.idempotency.WithLabelValues("in_progress").Inc()
		return nil, errcode.New(errcode.IdempotencyInProgress, "a request with this Idempotency-Key is still running")
	}
	defer s.idem.unlock(key)
	b := s.backend.Load()
	sn, err := b.Store.Snapshot(c.Context)
	if err != nil {
		return nil, err
	}
	now, err := scalar.TimestampOf(s.clock().UTC())
	if err != nil {
		sn.Close()
		return nil, err
	}
	row, err := sn.Idempotency(c.Context, key, now, s.sc.Idempotency.TTL.Duration)
	sn.Close()
	if err != nil {
		return nil, err
	}
	if row != nil {
		if row.RequestHash != hash {
			s.metrics.idempotency.WithLabelValues("conflict").Inc()
			return nil, errcode.New(errcode.IdempotencyConflict, "this Idempotency-Key was used for a different request (method, path or body)")
		}
		s.metrics.idempotency.WithLabelValues("replayed").Inc()
		return &Reply{Status: row.Status, ContentType: row.ContentType, Body: row.Body,
			Header: map[string][]string{HeaderIdempotencyReplayed: {HeaderTrue}}}, nil
	}
	c.idem = &recorder.Idempotency{Key: key, RequestHash: hash}
	return c.Route.handle(c)
}
