package dg

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
)

// Default bounds (DG.md §4).
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

// SourceNames are the prefixes a redaction path may carry to apply to one
// source only ("triggers:$.event.source_id").
var SourceNames = []string{"manifest", "triggers", "gate_evals", "decisions", "packets", "submissions",
	"tool_calls", "verifier_report", "mcp.request", "mcp.response"}

// defaultPaths are redacted unless PolicyConfig.DisableDefaults: the
// payloads DG carries for its callers, evidence values and references, and
// error details (DG.md §4), plus MCP tool arguments and results (§5).
var defaultPaths = []string{
	"triggers:$.event.payload",
	"packets:$.payload",
	"submissions:$.payload",
	"gate_evals:$.evidence[*].result.value",
	"$..evidence_ref.uri",
	"$..content_ref.uri",
	"$..error.details",
	"mcp.request:$.params.arguments",
	"mcp.response:$.response.result.content",
	"mcp.response:$.response.error.data",
}

// sensitiveKey matches object keys whose values are redacted at any depth.
var sensitiveKey = regexp.MustCompile(`(?i)(authorization|token|secret|password|api[_-]?key|cookie|credential)`)

// PolicyConfig configures a Policy. The zero value is the default policy.
type PolicyConfig struct {
	// DisableDefaults turns off the default redactions: the default paths
	// and sensitive key names. Paths and the bounds still apply.
	DisableDefaults bool
	// Paths are more values to redact, as "[SOURCE:]$PATH": $ is the
	// record, .name or ["name"] a member, [N] an element, .* or [*] any
	// child, ..name a descendant at any depth.
	Paths []string
	// MaxString is the longest string value kept, in bytes; 0 means
	// DefaultMaxString.
	MaxString int
	// MaxRecord is the longest record kept, in bytes of its JCS form after
	// redaction; 0 means DefaultMaxRecord.
	MaxRecord int
}

// Policy decides what of a record is kept (DG.md §4). A redacted or
// truncated value is replaced by
//
//	{"bytes":N,"redacted":true,"sha256":"<hex>"}   or
//	{"bytes":N,"sha256":"<hex>","truncated":true}
//
// where sha256 and bytes are those of the JCS form of the original value,
// and its path is listed in the payload's sorted redactions array. null is
// never redacted: it carries nothing to hide. A Policy is immutable and
// safe for concurrent use.
type Policy struct {
	defaults  bool
	patterns  []*pattern
	maxString int
	maxRecord int
}

// DefaultPolicy returns the default policy.
func DefaultPolicy() *Policy {
	p, err := NewPolicy(PolicyConfig{})
	if err != nil {
		panic(err) // the default paths are constants
	}
	return p
}

// NewPolicy validates cfg and returns its Policy; errors are config.invalid.
func NewPolicy(cfg PolicyConfig) (*Policy, error) {
	p := &Policy{defaults: !cfg.DisableDefaults, maxString: cfg.MaxString, maxRecord: cfg.MaxRecord}
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
	var paths []string
	if p.defaults {
		paths = append(paths, defaultPaths...)
	}
	for _, s := range append(paths, cfg.Paths...) {
		pat, err := parsePattern(s)
		if err != nil {
			return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: "redact-path", Msg: strconv.Quote(s) + ": " + err.Error()}
		}
		p.patterns = append(p.patterns, pat)
	}
	return p, nil
}

// MaxString reports the string bound.
func (p *Policy) MaxString() int { return p.maxString }

// MaxRecord reports the record bound.
func (p *Policy) MaxRecord() int { return p.maxRecord }

// segKind is a pattern segment's kind.
type segKind uint8

const (
	segKey     segKind = iota // .name, ["name"]
	segIndex                  // [N]
	segAny                    // .*, [*]
	segDescend                // .. (zero or more segments), always followed by another segment
)

type pseg struct {
	kind segKind
	key  string
	idx  int
}

type pattern struct {
	source string // "" for every source
	segs   []pseg
}

type patternError string

func (e patternError) Error() string { return string(e) }

// parsePattern parses "[SOURCE:]$…".
func parsePattern(s string) (*pattern, error) {
	p := &pattern{}
	if i := strings.Index(s, ":"); i >= 0 && !strings.HasPrefix(s, "$") {
		p.source, s = s[:i], s[i+1:]
		known := false
		for _, n := range SourceNames {
			known = known || n == p.source
		}
		if !known {
			return nil, patternError("unknown source " + strconv.Quote(p.source) + "; want one of " + strings.Join(SourceNames, ", "))
		}
	}
	if !strings.HasPrefix(s, "$") {
		return nil, patternError("a path starts with $")
	}
	s = s[1:]
	for s != "" {
		descend := false
		switch {
		case strings.HasPrefix(s, ".."):
			descend, s = true, s[2:]
			p.segs = append(p.segs, pseg{kind: segDescend})
			if s == "" {
				return nil, patternError(".. must be followed by a name, * or [...]")
			}
			if s[0] == '[' {
				break
			}
			fallthrough
		case s[0] == '.':
			if !descend {
				s = s[1:]
			}
			n := strings.IndexAny(s, ".[")
			if n < 0 {
				n = len(s)
			}
			name := s[:n]
			s = s[n:]
			switch {
			case name == "":
				return nil, patternError("empty name")
			case name == "*":
				p.segs = append(p.segs, pseg{kind: segAny})
			default:
				if strings.ContainsAny(name, `]"`) {
					return nil, patternError("name " + strconv.Quote(name) + `: use ["…"] for names with special characters`)
				}
				p.segs = append(p.segs, pseg{kind: segKey, key: name})
			}
			continue
		}
		if s[0] != '[' {
			return nil, patternError("unexpected " + strconv.Quote(s[:1]))
		}
		end := bracketEnd(s)
		if end < 0 {
			return nil, patternError("unclosed [")
		}
		inner := s[1:end]
		s = s[end+1:]
		switch {
		case inner == "*":
			p.segs = append(p.segs, pseg{kind: segAny})
		case strings.HasPrefix(inner, `"`):
			var key string
			if err := json.Unmarshal([]byte(inner), &key); err != nil {
				return nil, patternError("bad quoted name " + inner)
			}
			p.segs = append(p.segs, pseg{kind: segKey, key: key})
		default:
			n, err := strconv.Atoi(inner)
			if err != nil || n < 0 || strconv.Itoa(n) != inner {
				return nil, patternError("bad index [" + inner + "]")
			}
			p.segs = append(p.segs, pseg{kind: segIndex, idx: n})
		}
	}
	return p, nil
}

// bracketEnd returns the index of the ] closing the [ at s[0], skipping a
// quoted string, or -1.
func bracketEnd(s string) int {
	inStr := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && c == ']':
			return i
		}
	}
	return -1
}

// pathSeg is one step of a concrete path.
type pathSeg struct {
	key   string
	idx   int
	isIdx bool
}

func (g pseg) matches(s pathSeg) bool {
	switch g.kind {
	case segKey:
		return !s.isIdx && s.key == g.key
	case segIndex:
		return s.isIdx && s.idx == g.idx
	case segAny:
		return true
	}
	return false
}

// state is a position in a pattern while walking a record.
type state struct{ p, i int }

// redactor applies a Policy to records. It reuses its memory between
// records and is not safe for concurrent use.
type redactor struct {
	src      string // the record being walked
	pos      int
	pol      *Policy
	pats     []*pattern
	arena    []state
	path     []pathSeg
	out      []byte
	paths    []string
	keyCache map[string]bool
}

func newRedactor(pol *Policy) *redactor {
	return &redactor{pol: pol, keyCache: map[string]bool{}}
}

// redact returns the record canon (canonical JSON) after redaction and
// bounds, and the sorted paths replaced; both are valid until the next call.
// canon must be canonical JSON (every caller passes the output of the
// canonicaliser or a part of it); the walk is one pass over it.
func (r *redactor) redact(source, canon string) ([]byte, []string) {
	r.pats = r.pats[:0]
	for _, p := range r.pol.patterns {
		if p.source == "" || p.source == source {
			r.pats = append(r.pats, p)
		}
	}
	r.out, r.paths, r.path, r.arena = r.out[:0], r.paths[:0], r.path[:0], r.arena[:0]
	whole := false
	for i, p := range r.pats {
		whole = whole || len(p.segs) == 0
		r.arena = append(r.arena, state{p: i})
	}
	if whole {
		r.out = marker(r.out, canon, "redacted")
		r.paths = append(r.paths, "$")
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
		r.out = marker(r.out[:0], canon, "truncated")
		r.paths = append(r.paths[:0], "$")
		return r.out, r.paths
	}
	sort.Strings(r.paths)
	return r.out, r.paths
}

// value writes the value at src[pos:], whose pattern states are
// arena[lo:hi], and moves pos past it.
func (r *redactor) value(lo, hi int) {
	if r.pos >= len(r.src) {
		return
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
			r.out = marker(r.out, raw, "truncated")
			r.paths = append(r.paths, r.render())
		} else {
			r.out = append(r.out, raw...)
		}
	default:
		start := r.pos
		r.skipScalar()
		r.out = append(r.out, r.src[start:r.pos]...)
	}
}

// child writes the member value or element at src[pos:], reached by step
// s from the node whose states are arena[lo:hi].
func (r *redactor) child(s pathSeg, lo, hi int, sensitive bool) {
	r.path = append(r.path, s)
	start := len(r.arena)
	matched := sensitive
	for j := lo; j < hi; j++ {
		st := r.arena[j]
		segs := r.pats[st.p].segs
		if g := segs[st.i]; g.kind == segDescend {
			matched = r.advance(st.p, st.i, segs) || matched // the descent goes on
			if segs[st.i+1].matches(s) {
				matched = r.advance(st.p, st.i+2, segs) || matched
			}
		} else if g.matches(s) {
			matched = r.advance(st.p, st.i+1, segs) || matched
		}
	}
	if matched && !strings.HasPrefix(r.src[r.pos:], "null") {
		vstart := r.pos
		r.skipValue()
		r.out = marker(r.out, r.src[vstart:r.pos], "redacted")
		r.paths = append(r.paths, r.render())
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
func (r *redactor) skipString() (n int, esc bool) {
	i := r.pos + 1
	for i < len(r.src) {
		switch r.src[i] {
		case '"':
			r.pos = i + 1
			return n, esc
		case '\\':
			esc = true
			if i+1 < len(r.src) && r.src[i+1] == 'u' {
				i += 6
			} else {
				i += 2
			}
		default:
			i++
		}
		n++
	}
	r.pos = len(r.src)
	return n, esc
}

// skipScalar moves pos past a number or literal.
func (r *redactor) skipScalar() {
	for r.pos < len(r.src) {
		switch r.src[r.pos] {
		case ',', '}', ']':
			return
		}
		r.pos++
	}
}

// skipValue moves pos past the value at src[pos].
func (r *redactor) skipValue() {
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
func (r *redactor) advance(p, i int, segs []pseg) bool {
	if i == len(segs) {
		return true
	}
	r.arena = append(r.arena, state{p: p, i: i})
	return false
}

func (r *redactor) sensitive(key string) bool {
	s, ok := r.keyCache[key]
	if !ok {
		s = sensitiveKey.MatchString(key)
		if len(r.keyCache) < 4096 {
			r.keyCache[key] = s
		}
	}
	return s
}

// render writes the current path: $, .name or ["name"], [N].
func (r *redactor) render() string {
	b := []byte{'$'}
	for _, s := range r.path {
		switch {
		case s.isIdx:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(s.idx), 10)
			b = append(b, ']')
		case isIdent(s.key):
			b = append(b, '.')
			b = append(b, s.key...)
		default:
			b = append(b, '[')
			b = canonical.AppendString(b, s.key)
			b = append(b, ']')
		}
	}
	return string(b)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// marker appends the replacement for the value whose JCS form is canon.
func marker(b []byte, canon, kind string) []byte {
	sum := sha256.Sum256([]byte(canon))
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
