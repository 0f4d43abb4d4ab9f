package redact

import (
	"encoding/json"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
)

// Syntax is the language of the paths a Policy is given and of the paths
// its Redactor reports.
type Syntax uint8

const (
	// JSONPath is a subset of RFC 9535: $ is the record, .name or
	// ["name"] a member, [N] an element, .* or [*] any child, ..name (or
	// ..[…], ..*) a descendant at any depth; a pattern may start with
	// "SOURCE:" to apply to one source only. Reported paths look like
	// $.a[0]["b-c"].
	JSONPath Syntax = iota
	// Pointer is RFC 6901 JSON Pointer: "" is the record, each /token a
	// member, or an element when the token is an array index (~0 and ~1
	// escape ~ and /). Reported paths are pointers too.
	Pointer
)

// segKind is a pattern segment's kind.
type segKind uint8

const (
	segKey        segKind = iota // .name, ["name"]
	segIndex                     // [N]
	segAny                       // .*, [*]
	segDescend                   // .. (zero or more segments), always followed by another segment
	segKeyOrIndex                // a pointer token: the member of that name, or the element when it is an index
)

type pseg struct {
	kind segKind
	key  string
	idx  int // -1 for a segKeyOrIndex token that is not an array index
}

type pattern struct {
	source  string // "" for every source
	segs    []pseg
	strings bool // redacts string values only
}

type patternError string

func (e patternError) Error() string { return string(e) }

// parsePattern parses "[SOURCE:]$…", where SOURCE is one of sources.
func parsePattern(s string, sources []string) (*pattern, error) {
	p := &pattern{}
	if i := strings.Index(s, ":"); i >= 0 && !strings.HasPrefix(s, "$") {
		p.source, s = s[:i], s[i+1:]
		known := false
		for _, n := range sources {
			known = known || n == p.source
		}
		if !known {
			return nil, patternError("unknown source " + strconv.Quote(p.source) + "; want one of " + strings.Join(sources, ", "))
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
			n, ok := arrayIndex(inner)
			if !ok {
				return nil, patternError("bad index [" + inner + "]")
			}
			p.segs = append(p.segs, pseg{kind: segIndex, idx: n})
		}
	}
	return p, nil
}

// parsePointer parses an RFC 6901 JSON Pointer.
func parsePointer(s string) (*pattern, error) {
	p := &pattern{}
	if s == "" {
		return p, nil
	}
	if s[0] != '/' {
		return nil, patternError(`a JSON pointer is "" or starts with /`)
	}
	for _, tok := range strings.Split(s[1:], "/") {
		if i := strings.IndexByte(tok, '~'); i >= 0 {
			var b strings.Builder
			for j := 0; j < len(tok); j++ {
				if tok[j] != '~' {
					b.WriteByte(tok[j])
					continue
				}
				if j+1 == len(tok) || (tok[j+1] != '0' && tok[j+1] != '1') {
					return nil, patternError("bad escape in " + strconv.Quote(tok) + ": ~ must be followed by 0 or 1")
				}
				b.WriteByte("~/"[tok[j+1]-'0'])
				j++
			}
			tok = b.String()
		}
		idx, ok := arrayIndex(tok)
		if !ok {
			idx = -1
		}
		p.segs = append(p.segs, pseg{kind: segKeyOrIndex, key: tok, idx: idx})
	}
	return p, nil
}

// arrayIndex parses a non-negative decimal index without leading zeros.
func arrayIndex(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0 && strconv.Itoa(n) == s
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

func (g *pseg) matches(s *pathSeg) bool {
	switch g.kind {
	case segKey:
		return !s.isIdx && s.key == g.key
	case segIndex:
		return s.isIdx && s.idx == g.idx
	case segAny:
		return true
	case segKeyOrIndex:
		if s.isIdx {
			return s.idx == g.idx
		}
		return s.key == g.key
	}
	return false
}

// root is the path of the whole record.
func (x Syntax) root() string {
	if x == Pointer {
		return ""
	}
	return "$"
}

// render writes path in the syntax: $, .name or ["name"], [N] for
// JSONPath; /token for pointers.
func (x Syntax) render(path []pathSeg) string {
	b := []byte(x.root())
	for _, s := range path {
		switch {
		case x == Pointer:
			b = append(b, '/')
			if s.isIdx {
				b = strconv.AppendInt(b, int64(s.idx), 10)
				continue
			}
			for i := 0; i < len(s.key); i++ {
				switch c := s.key[i]; c {
				case '~':
					b = append(b, "~0"...)
				case '/':
					b = append(b, "~1"...)
				default:
					b = append(b, c)
				}
			}
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

// isIdent reports whether a member name can follow a dot in a reported
// JSONPath.
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
