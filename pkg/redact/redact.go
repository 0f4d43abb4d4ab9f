// Package redact is the redaction and bounds engine the adapters share
// (pkg/dg, pkg/openclaw): it decides what of a record an envelope may
// carry, and replaces the rest by markers that still let the holder of the
// original prove what was there.
//
// # Markers
//
// A redacted or truncated value is replaced by
//
//	{"bytes":N,"redacted":true,"sha256":"<hex>"}   or
//	{"bytes":N,"sha256":"<hex>","truncated":true}
//
// where sha256 and bytes are those of the JCS form of the original value,
// and its path is listed in the sorted redactions list the Redactor
// returns. null is never redacted: it carries nothing to hide.
//
// # Policies
//
// A Policy says what is redacted: an adapter's default paths (per source,
// such as DG's triggers or OpenClaw's transcript entries), any object key
// matching the adapter's sensitive-key pattern at any depth, the paths an
// operator adds (in the adapter's path Syntax, JSONPath or RFC 6901
// pointers), strings longer than MaxString bytes, and records whose JCS
// form exceeds MaxRecord bytes after all that (replaced whole). A Redactor
// applies a Policy in one pass over a record's canonical JSON, without
// decoding it, so redaction costs about as much as copying the record.
package redact

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
)

// Default bounds.
const (
	DefaultMaxString = 4096
	DefaultMaxRecord = 64 << 10
	// MaxMaxRecord is the largest MaxRecord a Policy accepts: half of an
	// envelope payload (SPEC §16), leaving room for the rest of the payload
	// and the redactions list.
	MaxMaxRecord = 2 << 20
	// maxRedactionsBytes bounds the redactions list of one record; a record
	// needing more is replaced whole.
	maxRedactionsBytes = 1 << 20
)

// Config configures a Policy.
type Config struct {
	// Defaults are the adapter's default patterns, "[SOURCE:]$…" in the
	// JSONPath syntax, and StringDefaults more of them that redact only
	// string values (a message content that is a string rather than a list
	// of blocks, say).
	Defaults, StringDefaults []string
	// Sources are the names a JSONPath pattern may be prefixed with.
	Sources []string
	// Sensitive matches the object keys whose values are redacted at any
	// depth; nil for none.
	Sensitive *regexp.Regexp
	// DisableDefaults turns off the defaults and the sensitive keys. Paths
	// and the bounds still apply.
	DisableDefaults bool
	// Paths are more values to redact, in Syntax.
	Paths []string
	// Syntax is the language of Paths and of the paths reported.
	Syntax Syntax
	// MaxString is the longest string value kept, in bytes; 0 means
	// DefaultMaxString.
	MaxString int
	// MaxRecord is the longest record kept, in bytes of its JCS form after
	// redaction; 0 means DefaultMaxRecord.
	MaxRecord int
}

// Policy decides what of a record is kept. A Policy is immutable and safe
// for concurrent use.
type Policy struct {
	defaults  bool
	sensitive *regexp.Regexp
	syntax    Syntax
	patterns  []*pattern
	maxString int
	maxRecord int
}

// New validates cfg and returns its Policy; errors are config.invalid
// naming the flag (max-string, max-record, redact-path).
func New(cfg Config) (*Policy, error) {
	p := &Policy{defaults: !cfg.DisableDefaults, sensitive: cfg.Sensitive, syntax: cfg.Syntax,
		maxString: cfg.MaxString, maxRecord: cfg.MaxRecord}
	if p.maxString == 0 {
		p.maxString = DefaultMaxString
	}
	if p.maxRecord == 0 {
		p.maxRecord = DefaultMaxRecord
	}
	if p.maxString < 0 {
		return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: "max-string", Msg: "must be positive"}
	}
	if p.maxRecord < 0 || p.maxRecord > MaxMaxRecord {
		return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: "max-record", Msg: "must be between 1 and " + strconv.Itoa(MaxMaxRecord)}
	}
	bad := func(s string, err error) error {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: "redact-path", Msg: strconv.Quote(s) + ": " + err.Error()}
	}
	if p.defaults {
		for i, list := range [2][]string{cfg.Defaults, cfg.StringDefaults} {
			for _, s := range list {
				pat, err := parsePattern(s, cfg.Sources)
				if err != nil {
					return nil, bad(s, err)
				}
				pat.strings = i == 1
				p.patterns = append(p.patterns, pat)
			}
		}
	}
	for _, s := range cfg.Paths {
		var pat *pattern
		var err error
		if cfg.Syntax == Pointer {
			pat, err = parsePointer(s)
		} else {
			pat, err = parsePattern(s, cfg.Sources)
		}
		if err != nil {
			return nil, bad(s, err)
		}
		p.patterns = append(p.patterns, pat)
	}
	return p, nil
}

// MaxString reports the string bound.
func (p *Policy) MaxString() int { return p.maxString }

// MaxRecord reports the record bound.
func (p *Policy) MaxRecord() int { return p.maxRecord }

// state is a position in a pattern while walking a record.
type state struct{ p, i int }

// Redactor applies a Policy to records. It reuses its memory between
// records and is not safe for concurrent use.
type Redactor struct {
	src      string // the record being walked
	pos      int
	pol      *Policy
	source   string     // of pats
	pats     []*pattern // the patterns of source
	arena    []state
	path     []pathSeg
	out      []byte
	paths    []string
	keyCache map[string]bool
	hashBuf  []byte
}

// Redactor returns a new Redactor of the policy.
func (p *Policy) Redactor() *Redactor {
	return &Redactor{pol: p, keyCache: map[string]bool{}}
}

// Redact returns the record canon (canonical JSON) of the given source
// after redaction and bounds, and the sorted paths replaced; both are
// valid until the next call. canon must be canonical JSON (the output of
// the canonicaliser or a part of it); the walk is one pass over it.
func (r *Redactor) Redact(source, canon string) ([]byte, []string) {
	if source != r.source || r.pats == nil {
		r.source, r.pats = source, r.pats[:0:0]
		for _, p := range r.pol.patterns {
			if p.source == "" || p.source == source {
				r.pats = append(r.pats, p)
			}
		}
	}
	r.out, r.paths, r.path, r.arena = r.out[:0], r.paths[:0], r.path[:0], r.arena[:0]
	whole := false
	for i, p := range r.pats {
		whole = whole || len(p.segs) == 0
		r.arena = append(r.arena, state{p: i})
	}
	if whole {
		r.out = r.marker(r.out, canon, "redacted")
		r.paths = append(r.paths, r.pol.syntax.root())
		return r.out, r.paths
	}
	r.src, r.pos = canon, 0
	r.value(0, len(r.arena))
	pathBytes := 0
	for _, p := range r.paths {
		pathBytes += len(p) + 3
	}
	// The redactions list is bounded too, so that record and list together
	// always fit in an envelope payload (SPEC §16).
	if len(r.out) > r.pol.maxRecord || pathBytes > maxRedactionsBytes {
		r.out = r.marker(r.out[:0], canon, "truncated")
		r.paths = append(r.paths[:0], r.pol.syntax.root())
		return r.out, r.paths
	}
	sort.Strings(r.paths)
	return r.out, r.paths
}

// value writes the value at src[pos:], whose pattern states are
// arena[lo:hi], and moves pos past it.
func (r *Redactor) value(lo, hi int) {
	if r.pos >= len(r.src) {
		return
	}
	if c := r.src[r.pos]; lo == hi && (c == '{' || c == '[') {
		// No pattern reaches inside: most subtrees have nothing to
		// replace, and are copied whole once a scan has shown it.
		start := r.pos
		if r.plain() {
			r.out = append(r.out, r.src[start:r.pos]...)
			return
		}
		r.pos = start
	}
	switch r.src[r.pos] {
	case '{':
		r.out = append(r.out, '{')
		r.pos++
		for r.pos < len(r.src) && r.src[r.pos] != '}' {
			if r.src[r.pos] == ',' {
				r.out = append(r.out, ',')
				r.pos++
			}
			kstart := r.pos
			_, esc := r.skipString()
			raw := r.src[kstart:r.pos]
			key := raw[1 : len(raw)-1]
			if esc {
				if k, err := strconv.Unquote(raw); err == nil {
					key = k
				}
			}
			r.out = append(r.out, raw...)
			r.out = append(r.out, ':')
			r.pos++ // ':'
			r.child(pathSeg{key: key}, lo, hi, r.pol.defaults && r.sensitive(key))
		}
		r.out = append(r.out, '}')
		r.pos++
	case '[':
		r.out = append(r.out, '[')
		r.pos++
		for i := 0; r.pos < len(r.src) && r.src[r.pos] != ']'; i++ {
			if r.src[r.pos] == ',' {
				r.out = append(r.out, ',')
				r.pos++
			}
			r.child(pathSeg{idx: i, isIdx: true}, lo, hi, false)
		}
		r.out = append(r.out, ']')
		r.pos++
	case '"':
		start := r.pos
		dlen, _ := r.skipString()
		raw := r.src[start:r.pos]
		if dlen > r.pol.maxString {
			r.out = r.marker(r.out, raw, "truncated")
			r.paths = append(r.paths, r.pol.syntax.render(r.path))
		} else {
			r.out = append(r.out, raw...)
		}
	default:
		start := r.pos
		r.skipScalar()
		r.out = append(r.out, r.src[start:r.pos]...)
	}
}

// plain moves pos past the object or array at src[pos] and reports
// whether it holds nothing the policy replaces without a pattern: no
// sensitive key, no string over the bound. It gives up (false) on the
// first such, or past 64 levels.
func (r *Redactor) plain() bool {
	var objects uint64 // bit d: the container at depth d is an object
	depth := -1
	key := false // the next string is a key
	for r.pos < len(r.src) {
		switch c := r.src[r.pos]; c {
		case '{', '[':
			if depth++; depth == 64 {
				return false
			}
			objects = objects&^(1<<depth) | b2u(c == '{')<<depth
			key = c == '{'
			r.pos++
		case '}', ']':
			r.pos++
			if depth--; depth < 0 {
				return true
			}
		case ',':
			key = objects&(1<<depth) != 0
			r.pos++
		case ':':
			key = false
			r.pos++
		case '"':
			start := r.pos
			n, esc := r.skipString()
			switch {
			case !key:
				if n > r.pol.maxString {
					return false
				}
			case r.pol.defaults && r.pol.sensitive != nil:
				k := r.src[start+1 : r.pos-1]
				if esc {
					if u, err := strconv.Unquote(r.src[start:r.pos]); err == nil {
						k = u
					}
				}
				if r.sensitive(k) {
					return false
				}
			}
			key = false
		default:
			r.skipScalar()
		}
	}
	return false
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// child writes the member value or element at src[pos:], reached by step
// s from the node whose states are arena[lo:hi].
func (r *Redactor) child(s pathSeg, lo, hi int, sensitive bool) {
	r.path = append(r.path, s)
	start := len(r.arena)
	matched, matchedString := sensitive, false
	for j := lo; j < hi; j++ {
		st := r.arena[j]
		pat := r.pats[st.p]
		segs := pat.segs
		done := false
		if g := &segs[st.i]; g.kind == segDescend {
			done = r.advance(st.p, st.i, segs) // the descent goes on
			if segs[st.i+1].matches(&s) {
				done = r.advance(st.p, st.i+2, segs) || done
			}
		} else if g.matches(&s) {
			done = r.advance(st.p, st.i+1, segs)
		}
		switch {
		case done && pat.strings:
			matchedString = true
		case done:
			matched = true
		}
	}
	if r.pos < len(r.src) && (matched && !strings.HasPrefix(r.src[r.pos:], "null") || matchedString && r.src[r.pos] == '"') {
		vstart := r.pos
		r.skipValue()
		r.out = r.marker(r.out, r.src[vstart:r.pos], "redacted")
		r.paths = append(r.paths, r.pol.syntax.render(r.path))
	} else {
		r.value(start, len(r.arena))
	}
	r.arena = r.arena[:start]
	r.path = r.path[:len(r.path)-1]
}

// skipString moves pos past the string at src[pos] and returns the length
// of its decoded value in bytes and whether it holds escapes. Canonical
// JSON escapes only ", \, and control characters (\b, \t, \n, \f, \r or
// \u00XX), each one byte decoded.
func (r *Redactor) skipString() (n int, esc bool) {
	i, q := r.pos+1, -1 // q: the next '"' at or after i, once found
	for i < len(r.src) {
		// Runs without escapes are skipped whole, each byte looked at
		// once for a quote and once for a backslash.
		if q < i {
			if q = strings.IndexByte(r.src[i:], '"'); q < 0 {
				q = len(r.src)
			} else {
				q += i
			}
		}
		b := strings.IndexByte(r.src[i:q], '\\')
		if b < 0 {
			n += q - i
			i = q
			if i < len(r.src) {
				r.pos = i + 1
				return n, esc
			}
			break
		}
		n += b + 1
		i += b
		esc = true
		if i+1 < len(r.src) && r.src[i+1] == 'u' {
			i += 6
		} else {
			i += 2
		}
	}
	r.pos = len(r.src)
	return n, esc
}

// skipScalar moves pos past a number or literal.
func (r *Redactor) skipScalar() {
	for r.pos < len(r.src) {
		switch r.src[r.pos] {
		case ',', '}', ']':
			return
		}
		r.pos++
	}
}

// skipValue moves pos past the value at src[pos].
func (r *Redactor) skipValue() {
	if r.pos >= len(r.src) {
		return
	}
	switch r.src[r.pos] {
	case '"':
		r.skipString()
	case '{', '[':
		depth := 0
		for r.pos < len(r.src) {
			switch r.src[r.pos] {
			case '"':
				r.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			r.pos++
			if depth == 0 {
				return
			}
		}
	default:
		r.skipScalar()
	}
}

// advance records that pattern p reached segment i at the current node: it
// matches the node when i is past its last segment, else the state carries
// on to the node's children.
func (r *Redactor) advance(p, i int, segs []pseg) bool {
	if i == len(segs) {
		return true
	}
	r.arena = append(r.arena, state{p: p, i: i})
	return false
}

func (r *Redactor) sensitive(key string) bool {
	if r.pol.sensitive == nil {
		return false
	}
	s, ok := r.keyCache[key]
	if !ok {
		s = r.pol.sensitive.MatchString(key)
		if len(r.keyCache) < 4096 {
			r.keyCache[key] = s
		}
	}
	return s
}

// marker appends the replacement for the value whose JCS form is canon.
func (r *Redactor) marker(b []byte, canon, kind string) []byte {
	r.hashBuf = append(r.hashBuf[:0], canon...)
	sum := sha256.Sum256(r.hashBuf)
	b = append(b, `{"bytes":`...)
	b = strconv.AppendInt(b, int64(len(canon)), 10)
	if kind == "redacted" {
		b = append(b, `,"redacted":true,"sha256":"`...)
		b = hex.AppendEncode(b, sum[:])
		return append(b, `"}`...)
	}
	b = append(b, `,"sha256":"`...)
	b = hex.AppendEncode(b, sum[:])
	return append(b, `","truncated":true}`...)
}

// AppendList appends paths (sorted, as Redact returns them) as a JSON
// array of strings.
func AppendList(b []byte, paths []string) []byte {
	b = append(b, '[')
	for i, p := range paths {
		if i > 0 {
			b = append(b, ',')
		}
		b = canonical.AppendString(b, p)
	}
	return append(b, ']')
}
