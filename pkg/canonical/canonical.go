// Package canonical writes JSON in the RFC 8785 JSON Canonicalization Scheme
// (JCS) with Arxi's fail-closed rules (SPEC §3).
//
// Every line an Arxi tool writes, and every byte it hashes, is the JCS form
// of its value. JCS fixes the three things plain JSON leaves open: object
// members are sorted by their keys as UTF-16 code units, numbers are written
// in the ECMAScript 6 shortest form, and strings escape only what JSON
// requires, with lowercase hex.
//
// # Strictness
//
// The canonicaliser is also the validator. Input that JCS would accept but
// that could make two parties disagree about the value is rejected:
//
//   - an integer literal (no fraction, no exponent) outside ±2^53, which an
//     IEEE 754 double would silently round, and any other number whose
//     canonical form would be such a literal (2^53 < |x| < 1e21, for
//     example 1e20), which could not be read back (errcode.InputNumberPrecision);
//   - duplicate object keys, invalid UTF-8, lone or misordered UTF-16
//     surrogate escapes, numbers that overflow to infinity, and any syntax
//     error (errcode.InputMalformedJSON);
//   - nesting deeper than the depth limit, 64 by default
//     (errcode.InputTooDeep).
//
// # Implementation
//
// One pass over the input writes the canonical form directly. Members of an
// object are written in document order and, only when they were not already
// sorted, rearranged once the object closes, so canonical input (the common
// case when Arxi reads its own streams) is copied straight through, in
// runs as long as the text allows. Non-integer numbers are formatted by
// github.com/gowebpki/jcs, which is also the reference the fuzz tests
// compare this package against, unless they are short decimals already in
// that form (plainDecimal).
package canonical

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"arxi.dev/arxi/pkg/errcode"
	"github.com/gowebpki/jcs"
)

// DefaultMaxDepth is the nesting limit of SPEC §3.
const DefaultMaxDepth = 64

// maxSafeInteger is 2^53, the largest magnitude an integer literal may have.
const maxSafeInteger = "9007199254740992"

// Canonicalizer canonicalises JSON values, reusing its scratch memory
// between calls. The zero value is ready to use with DefaultMaxDepth. A
// Canonicalizer is not safe for concurrent use.
type Canonicalizer struct {
	// MaxDepth is the deepest nesting of arrays and objects accepted; zero
	// means DefaultMaxDepth.
	MaxDepth int

	p parser
}

// Member locates one member of a top-level object in the output of the
// last Append, so that a decoder can read the members without parsing the
// text again.
type Member struct {
	// Key is the decoded key, valid until the next Append and while the
	// input is unchanged (it may be the key's text there).
	Key []byte
	// Start and End delimit the member's value in the output (End
	// exclusive); Quoted is where its key's literal starts.
	Quoted, Start, End int
}

// Members returns the members of the value the last successful Append
// canonicalised, in canonical (sorted) order, when that value was an
// object; nil otherwise. Offsets count from the start of the output, not
// of dst. The slice is reused by the next Append.
func (c *Canonicalizer) Members() []Member {
	if !c.p.isObject {
		return nil
	}
	return c.p.top
}

// Append validates src, which must hold exactly one JSON value with optional
// surrounding whitespace, and appends its canonical form to dst. On error
// dst is returned unchanged in length and the error is an *errcode.Error
// whose message names the byte offset.
func (c *Canonicalizer) Append(dst, src []byte) ([]byte, error) {
	p := &c.p
	p.check, p.missed = false, false
	return p.run(c.MaxDepth, dst, src)
}

// run canonicalises src into dst, or checks it in check mode.
func (p *parser) run(maxDepth int, dst, src []byte) ([]byte, error) {
	p.src, p.pos, p.out, p.depth, p.o = src, 0, dst, 0, 0
	p.runStart, p.runEnd = 0, 0
	p.maxDepth = maxDepth
	if p.maxDepth <= 0 {
		p.maxDepth = DefaultMaxDepth
	}
	p.members, p.keys = p.members[:0], p.keys[:0]
	p.base, p.isObject, p.top = len(dst), false, p.top[:0]
	err := p.value()
	if err == nil {
		p.skipSpace()
		if p.pos != len(p.src) {
			err = p.syntax("unexpected data after the value")
		}
	}
	p.flush()
	out := p.out
	p.src, p.out = nil, nil
	if err != nil {
		p.isObject, p.top = false, p.top[:0]
		return dst, err
	}
	return out, nil
}

// Append canonicalises src with a fresh Canonicalizer (see
// Canonicalizer.Append).
func Append(dst, src []byte) ([]byte, error) {
	var c Canonicalizer
	return c.Append(dst, src)
}

// Transform returns the canonical form of src.
func Transform(src []byte) ([]byte, error) {
	return Append(make([]byte, 0, len(src)), src)
}

// Check reports whether src, which must be valid, is exactly the canonical
// form of its value (no surrounding whitespace); it returns the error of
// Append when src is not valid. Members describes src after a successful
// check.
func (c *Canonicalizer) Check(src []byte) (canonical bool, err error) {
	// Check mode reads src as Append does but writes nothing: each byte it
	// would write must be the byte of src at that place. At the first
	// difference it gives up, and Append says whether src is invalid or
	// only not canonical.
	p := &c.p
	p.check, p.missed = true, false
	_, err = p.run(c.MaxDepth, nil, src)
	if err == nil && !p.missed && p.o == len(src) {
		return true, nil
	}
	out, err := c.Append(p.check0[:0], src)
	p.check0 = out[:0]
	if err != nil {
		return false, err
	}
	return bytes.Equal(out, src), nil
}

// IsCanonical reports whether src is exactly the canonical form of a valid
// value (no surrounding whitespace).
func IsCanonical(src []byte) bool {
	out, err := Transform(src)
	return err == nil && bytes.Equal(out, src)
}

// Marshal encodes v with encoding/json and canonicalises the result. It is
// for records off the hot path (manifests, verdicts, receipts); integers in v
// beyond ±2^53 fail rather than lose precision.
func Marshal(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "encode JSON")
	}
	return Transform(raw)
}

// AppendString appends s as a JCS string literal. s must be valid UTF-8;
// Arxi only writes validated strings, and an invalid byte is written as
// U+FFFD so the output is always valid JSON.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	start := 0
	for i := 0; ; i++ {
		// textRun passes valid UTF-8, so it stops at a byte to escape or
		// at one that is not UTF-8.
		if i = textRun(b, i); i >= len(s) {
			break
		}
		dst = append(dst, s[start:i]...)
		if c := s[i]; c >= utf8.RuneSelf {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = appendEscaped(dst, rune(c))
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// compareUTF16 orders valid UTF-8 byte strings by UTF-16 code units. UTF-8
// byte order equals code point order, which differs from UTF-16 order only
// between supplementary characters (surrogate pairs, 0xD800–0xDFFF) and
// U+E000–U+FFFF, so only the first differing character needs decoding.
func compareUTF16(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		switch {
		case len(a) < len(b):
			return -1
		case len(a) > len(b):
			return 1
		}
		return 0
	}
	if a[i] < utf8.RuneSelf && b[i] < utf8.RuneSelf {
		if a[i] < b[i] {
			return -1
		}
		return 1
	}
	for i > 0 && a[i]&0xC0 == 0x80 { // back up to the start of the character
		i--
	}
	ra, _ := utf8.DecodeRune(a[i:])
	rb, _ := utf8.DecodeRune(b[i:])
	ua, ub := firstUnit(ra), firstUnit(rb)
	switch {
	case ua < ub:
		return -1
	case ua > ub:
		return 1
	case ra < rb: // same high surrogate: the low surrogates follow code point order
		return -1
	case ra > rb:
		return 1
	}
	return 0
}

func firstUnit(r rune) rune {
	if r >= 0x10000 {
		return 0xD800 + (r-0x10000)>>10
	}
	return r
}

// appendEscaped appends the JCS escape of an ASCII character that JSON
// requires escaping: the quote, the backslash and C0 controls.
func appendEscaped(dst []byte, c rune) []byte {
	switch c {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\b':
		return append(dst, '\\', 'b')
	case '\t':
		return append(dst, '\\', 't')
	case '\n':
		return append(dst, '\\', 'n')
	case '\f':
		return append(dst, '\\', 'f')
	case '\r':
		return append(dst, '\\', 'r')
	}
	const hex = "0123456789abcdef"
	return append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
}

// member is one object member while its object is open: where its
// decoded key is (its text in src, or in the keys arena when it has
// escapes), the span of `"key":value` in out, and where the value starts
// within it.
type member struct {
	keyStart, keyEnd int
	start, end       int
	val              int
	prefix           uint64 // the key's first 8 bytes, big-endian, zero-padded (keyPrefix)
	esc              bool   // the key is in keys
}

// prefix is keyPrefix of m's key, read as one word from src when it can be.
func (p *parser) prefix(m *member) uint64 {
	if m.esc || m.keyStart+8 > len(p.src) {
		return keyPrefix(p.key(m))
	}
	x := binary.BigEndian.Uint64(p.src[m.keyStart:])
	if n := m.keyEnd - m.keyStart; n < 8 {
		x = x >> (64 - 8*n) << (64 - 8*n) // zero the bytes after the key
	}
	return x
}

// key is m's decoded key.
func (p *parser) key(m *member) []byte {
	if m.esc {
		return p.keys[m.keyStart:m.keyEnd]
	}
	return p.src[m.keyStart:m.keyEnd]
}

// keyPrefix packs the first 8 bytes of a key into an integer whose order
// is the keys' byte order, padded with zeros: two keys whose prefixes
// differ at a byte that is ASCII in both compare as their prefixes do
// (a key that ends there is the shorter, so the smaller). Anything else
// takes compareUTF16.
func keyPrefix(key []byte) uint64 {
	if len(key) >= 8 {
		return binary.BigEndian.Uint64(key)
	}
	var x uint64
	for i, c := range key { // most keys are short; a loop costs less than a copy
		x |= uint64(c) << (56 - 8*i)
	}
	return x
}

// compareKeys is compareUTF16 of two members' keys, decided by their
// prefixes where it can.
func (p *parser) compareKeys(a, b *member) int {
	if x := a.prefix ^ b.prefix; x != 0 {
		shift := 56 - bits.LeadingZeros64(x)&^7 // the first differing byte
		if byte(a.prefix>>shift)|byte(b.prefix>>shift) < utf8.RuneSelf {
			if a.prefix < b.prefix {
				return -1
			}
			return 1
		}
	}
	return compareUTF16(p.key(a), p.key(b))
}

type parser struct {
	src      []byte
	pos      int
	out      []byte
	depth    int
	maxDepth int
	members  []member // stack shared by the open objects
	keys     []byte   // decoded keys of the open objects
	tmp      []byte   // scratch for reordering members
	check0   []byte   // scratch output of Check when src is not canonical

	// runStart and runEnd delimit the text of src that copy has yet to
	// write to out (see copy).
	runStart, runEnd int

	// Check mode: nothing is written; o is where the output would be, in
	// src, as long as it equals src (missed is set when it does not).
	check  bool
	missed bool
	o      int

	base     int      // where the output started in out
	isObject bool     // the value was an object: top holds its members
	top      []Member // the top-level object's members
}

// olen is the length of the output so far.
func (p *parser) olen() int {
	if p.check {
		return p.o
	}
	return len(p.out) + p.runEnd - p.runStart
}

// copy writes src[a:b] to the output. Text copied through is mostly one
// run of src, in pieces (punctuation, keys, values): copy extends the run
// it holds back while the pieces follow each other, and flush writes it.
func (p *parser) copy(a, b int) {
	if p.check {
		if p.o != a {
			p.missed = true
		}
		p.o = b
		return
	}
	if a != p.runEnd {
		p.flush()
		p.runStart = a
	}
	p.runEnd = b
}

// flush writes the run copy holds back; anything else that writes the
// output calls it first.
func (p *parser) flush() {
	if p.runEnd > p.runStart {
		p.out = append(p.out, p.src[p.runStart:p.runEnd]...)
	}
	p.runStart = p.runEnd
}

// emit writes b to the output.
func (p *parser) emit(b []byte) {
	if p.check {
		if !bytes.HasPrefix(p.src[min(p.o, len(p.src)):], b) {
			p.missed = true
		}
		p.o += len(b)
		return
	}
	p.flush()
	p.out = append(p.out, b...)
}

// emitString writes s to the output.
func (p *parser) emitString(s string) {
	if p.check {
		if !strings.HasPrefix(unsafe.String(unsafe.SliceData(p.src[min(p.o, len(p.src)):]), len(p.src)-min(p.o, len(p.src))), s) {
			p.missed = true
		}
		p.o += len(s)
		return
	}
	p.flush()
	p.out = append(p.out, s...)
}

// errMiss stops check mode's parse early: the rest is Append's to judge.
var errMiss = errors.New("not canonical")

func (p *parser) syntax(msg string) error {
	return errcode.New(errcode.InputMalformedJSON, "%s at offset %d", msg, p.pos)
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		// Canonical text has no white space: one comparison tells.
		if c := p.src[p.pos]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return
		}
		p.pos++
	}
}

func (p *parser) value() error {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return p.syntax("unexpected end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		p.pos++
		return p.str(false)
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return p.syntax("invalid character " + strconv.QuoteRune(rune(p.src[p.pos])))
}

func (p *parser) literal(lit string) error {
	if !bytes.HasPrefix(p.src[p.pos:], []byte(lit)) {
		return p.syntax("invalid literal")
	}
	p.copy(p.pos, p.pos+len(lit))
	p.pos += len(lit)
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > p.maxDepth {
		return errcode.New(errcode.InputTooDeep, "nesting deeper than %d levels at offset %d", p.maxDepth, p.pos)
	}
	return nil
}

func (p *parser) array() error {
	if err := p.enter(); err != nil {
		return err
	}
	p.copy(p.pos, p.pos+1) // '['
	p.pos++
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.copy(p.pos, p.pos+1)
		p.pos++
		p.depth--
		return nil
	}
	for {
		if err := p.value(); err != nil {
			return err
		}
		p.skipSpace()
		if p.pos >= len(p.src) {
			return p.syntax("unterminated array")
		}
		switch p.src[p.pos] {
		case ',':
			p.copy(p.pos, p.pos+1)
			p.pos++
		case ']':
			p.copy(p.pos, p.pos+1)
			p.pos++
			p.depth--
			return nil
		default:
			return p.syntax("expected ',' or ']' in array")
		}
	}
}

func (p *parser) object() error {
	if err := p.enter(); err != nil {
		return err
	}
	objStart := p.olen()
	p.copy(p.pos, p.pos+1) // '{'
	p.pos++
	base, keysBase := len(p.members), len(p.keys)
	if p.depth == 1 {
		p.isObject = true
	}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.copy(p.pos, p.pos+1)
		p.pos++
		p.depth--
		return nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return p.syntax("expected a string key in object")
		}
		p.pos++
		m := member{keyStart: p.pos, start: p.olen()}
		keys := len(p.keys)
		if err := p.str(true); err != nil {
			return err
		}
		if m.keyEnd = p.pos - 1; len(p.keys) > keys {
			m.keyStart, m.keyEnd, m.esc = keys, len(p.keys), true
		}
		m.prefix = p.prefix(&m)
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return p.syntax("expected ':' after object key")
		}
		p.copy(p.pos, p.pos+1)
		p.pos++
		m.val = p.olen() - m.start
		if err := p.value(); err != nil {
			return err
		}
		m.end = p.olen()
		p.members = append(p.members, m)
		p.skipSpace()
		if p.pos >= len(p.src) {
			return p.syntax("unterminated object")
		}
		if p.src[p.pos] == ',' {
			p.copy(p.pos, p.pos+1)
			p.pos++
			continue
		}
		if p.src[p.pos] != '}' {
			return p.syntax("expected ',' or '}' in object")
		}
		p.pos++
		break
	}
	if err := p.order(objStart, base); err != nil {
		return err
	}
	if p.depth == 1 {
		p.topMembers(objStart, base)
	}
	p.copy(p.pos-1, p.pos) // '}'

	p.members, p.keys = p.members[:base], p.keys[:keysBase]
	p.depth--
	return nil
}

// topMembers records the members of the top-level object, sorted, whose
// text starts after objStart's brace.
func (p *parser) topMembers(objStart, base int) {
	at := objStart + 1
	for i := range p.members[base:] {
		// The key stays where it was decoded: in src, or in keys, which
		// the next Append overwrites first.
		m := &p.members[base+i]
		key := p.key(m)
		p.top = append(p.top, Member{Key: key[:len(key):len(key)], Quoted: at - p.base,
			Start: at + m.val - p.base, End: at + m.end - m.start - p.base})
		at += m.end - m.start + 1 // the member and its comma
	}
}

// order checks the members of the object starting at objStart for
// duplicates and, when they are out of order, rewrites them sorted.
func (p *parser) order(objStart, base int) error {
	ms := p.members[base:]
	key := p.key
	first := 0 // the first member out of order, if any
	for i := 1; i < len(ms); i++ {
		switch p.compareKeys(&ms[i-1], &ms[i]) {
		case 0:
			return p.duplicate(key(&ms[i]))
		case 1:
			if first == 0 {
				first = i
			}
		}
	}
	if first == 0 {
		return nil
	}
	if p.check {
		return errMiss
	}
	if p.sortMembers(ms, first) {
		for i := 1; i < len(ms); i++ {
			if p.compareKeys(&ms[i-1], &ms[i]) == 0 {
				return p.duplicate(key(&ms[i]))
			}
		}
	}
	body := objStart + 1
	p.flush()
	p.tmp = append(p.tmp[:0], p.out[body:]...)
	p.out = p.out[:body]
	for i, m := range ms {
		if i > 0 {
			p.out = append(p.out, ',')
		}
		p.out = append(p.out, p.tmp[m.start-body:m.end-body]...)
	}
	return nil
}

// sortMembers sorts ms, whose members before first are in order, and
// reports whether two of them may have the same key. Objects are mostly
// small: up to insertionMax members are sorted by insertion, without a
// function value per comparison, and since each member is compared with
// the sorted ones before it down to its place, an equal key there is
// always met (no duplicate then is certain); larger objects are sorted by
// slices.SortFunc and always may have one.
func (p *parser) sortMembers(ms []member, first int) (dup bool) {
	if len(ms) > insertionMax {
		slices.SortFunc(ms, func(a, b member) int { return p.compareKeys(&a, &b) })
		return true
	}
	for i := first; i < len(ms); i++ {
		m := ms[i]
		j := i
		for ; j > 0; j-- {
			c := p.compareKeys(&ms[j-1], &m)
			if c <= 0 {
				dup = dup || c == 0
				break
			}
			ms[j] = ms[j-1]
		}
		ms[j] = m
	}
	return dup
}

// insertionMax is the largest object whose members sortMembers sorts by
// insertion.
const insertionMax = 16

func (p *parser) duplicate(key []byte) error {
	k := string(key)
	if len(k) > 64 {
		k = k[:64] + "…"
	}
	return errcode.New(errcode.InputMalformedJSON, "duplicate object key %q before offset %d", k, p.pos)
}

// str parses a string body (the opening quote already consumed) and
// appends its canonical literal to out. A key's decoded bytes are its text
// in src unless it has an escape; then they are appended to keys.
func (p *parser) str(isKey bool) error {
	// Text that is copied through unchanged is written in one piece, from
	// the opening quote (from) up to an escape or the closing quote.
	from := p.pos - 1
	esc := false // the key's decoded bytes are going to keys
	for {
		start := p.pos
		p.pos = textRun(p.src, p.pos)
		if esc && p.pos > start {
			p.keys = append(p.keys, p.src[start:p.pos]...)
		}
		if p.pos >= len(p.src) {
			return p.syntax("unterminated string")
		}
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			p.copy(from, p.pos)
			return nil
		case c < 0x20:
			return p.syntax("unescaped control character in string")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.src[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return p.syntax("invalid UTF-8 in string")
			}
			if esc {
				p.keys = append(p.keys, p.src[p.pos:p.pos+size]...)
			}
			p.pos += size
		default: // backslash
			if isKey && !esc {
				esc = true
				p.keys = append(p.keys, p.src[from+1:p.pos]...)
			}
			p.copy(from, p.pos)
			r, err := p.escape()
			if err != nil {
				return err
			}
			var buf [8]byte
			if r < 0x20 || r == '"' || r == '\\' {
				p.emit(appendEscaped(buf[:0], r))
			} else {
				p.emit(utf8.AppendRune(buf[:0], r))
			}
			from = p.pos
			if esc {
				p.keys = utf8.AppendRune(p.keys, r)
			}
		}
	}
}

// plainRun returns the end of the run of bytes at src[i:] that a string
// copies through unchanged: ASCII without controls, quote and backslash.
// It looks at eight bytes at a time (SWAR): a string's text is most of a
// record's line.
func plainRun(src []byte, i int) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(src) {
		x := binary.LittleEndian.Uint64(src[i:])
		q, b := x^(lo*'"'), x^(lo*'\\')
		special := (x | (x-lo*0x20)&^x | (q-lo)&^q | (b-lo)&^b) & hi
		if special != 0 {
			// The lowest flagged byte is exact; borrows only flag bytes
			// above a special one.
			return i + bits.TrailingZeros64(special)/8
		}
		i += 8
	}
	for i < len(src) {
		c := src[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	return i
}

// textRun returns the end of the run of bytes at src[i:] that a string
// copies through unchanged: plain ASCII and valid UTF-8 sequences. It stops
// at a quote, a backslash, a control character or invalid UTF-8.
func textRun(src []byte, i int) int {
	for {
		i = plainRun(src, i)
		if i >= len(src) || src[i] < utf8.RuneSelf {
			return i
		}
		// A two-byte sequence (Latin, Greek, Cyrillic, Hebrew, Arabic
		// letters), the commonest beside ASCII, is valid exactly when its
		// lead is C2-DF and its second byte a continuation: no overlong
		// or surrogate forms to rule out at this length.
		if c := src[i]; c >= 0xC2 && c <= 0xDF && i+1 < len(src) && src[i+1]&0xC0 == 0x80 {
			i += 2
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
}

// escape decodes one escape sequence at pos (which holds the backslash),
// joining surrogate pairs and rejecting lone surrogates.
func (p *parser) escape() (rune, error) {
	if p.pos+1 >= len(p.src) {
		return 0, p.syntax("unterminated escape")
	}
	e := p.src[p.pos+1]
	p.pos += 2
	switch e {
	case '"', '\\', '/':
		return rune(e), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
	default:
		p.pos -= 2
		return 0, p.syntax("invalid escape")
	}
	r, ok := p.hex4()
	if !ok {
		return 0, p.syntax("invalid \\u escape")
	}
	switch {
	case r >= 0xDC00 && r <= 0xDFFF:
		return 0, p.syntax("lone low surrogate")
	case r >= 0xD800 && r <= 0xDBFF:
		if p.pos+1 >= len(p.src) || p.src[p.pos] != '\\' || p.src[p.pos+1] != 'u' {
			return 0, p.syntax("lone high surrogate")
		}
		p.pos += 2
		lo, ok := p.hex4()
		if !ok {
			return 0, p.syntax("invalid \\u escape")
		}
		if lo < 0xDC00 || lo > 0xDFFF {
			return 0, p.syntax("high surrogate not followed by a low surrogate")
		}
		return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), nil
	}
	return r, nil
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.src) {
		return 0, false
	}
	var r rune
	for _, c := range p.src[p.pos : p.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}

func (p *parser) digits() int {
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	return p.pos - start
}

// number parses an RFC 8259 number. Integer literals are copied through
// after the ±2^53 check (their ES6 form is their digits); other numbers go
// through float64 and the ES6 formatter.
func (p *parser) number() error {
	start := p.pos
	if p.src[p.pos] == '-' {
		p.pos++
	}
	intStart := p.pos
	switch {
	case p.pos < len(p.src) && p.src[p.pos] == '0':
		p.pos++
	case p.digits() == 0:
		return p.syntax("invalid number")
	}
	intDigits := p.src[intStart:p.pos]
	integer := true
	var frac []byte // the fraction's digits
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		at := p.pos
		if p.digits() == 0 {
			return p.syntax("invalid number: no digits after '.'")
		}
		frac = p.src[at:p.pos]
		integer = false
	}
	fixed := frac != nil // a fraction without an exponent
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return p.syntax("invalid number: no digits in exponent")
		}
		integer, fixed = false, false
	}
	lit := p.src[start:p.pos]
	if integer {
		if len(intDigits) > len(maxSafeInteger) ||
			(len(intDigits) == len(maxSafeInteger) && string(intDigits) > maxSafeInteger) {
			return errcode.New(errcode.InputNumberPrecision,
				"integer %s at offset %d is outside ±2^53; send it as a string", abbreviate(lit), start)
		}
		if len(intDigits) == 1 && intDigits[0] == '0' {
			p.emitString("0") // "-0" is written as 0
		} else {
			p.copy(start, p.pos)
		}
		return nil
	}
	if fixed && plainDecimal(intDigits, frac) {
		p.copy(start, p.pos)
		return nil
	}
	f, err := strconv.ParseFloat(unsafe.String(&lit[0], len(lit)), 64)
	if err != nil {
		return errcode.New(errcode.InputMalformedJSON, "number %s at offset %d is not finite as a double", abbreviate(lit), start)
	}
	// Doubles in (2^53, 1e21) are integers that ES6 writes without a
	// fraction or exponent, so their canonical form would be an integer
	// literal beyond ±2^53: reading it back would fail. Reject them here so
	// that every canonical output reads back.
	if a := math.Abs(f); a > 1<<53 && a < 1e21 {
		return errcode.New(errcode.InputNumberPrecision,
			"number %s at offset %d is an integer beyond ±2^53 in canonical form; send it as a string", abbreviate(lit), start)
	}
	s, err := jcs.NumberToJSON(f)
	if err != nil {
		return errcode.New(errcode.InputMalformedJSON, "number at offset %d is not finite", start)
	}
	p.emitString(s)
	return nil
}

// plainDecimal reports whether the number whose integer and fraction
// digits these are, written without an exponent, is already in ES6 form:
// the fraction ends in a nonzero digit, there are at most 15 significant
// digits (any two such decimals are distinct doubles, so the shortest
// digits that read back as this double are these), and the value is where
// ES6 writes a fraction without an exponent (at least 1e-6, which a
// value below 1 meets with at most five zeros after the point).
func plainDecimal(intDigits, frac []byte) bool {
	if frac[len(frac)-1] == '0' {
		return false
	}
	if intDigits[0] != '0' {
		return len(intDigits)+len(frac) <= 15
	}
	zeros := 0
	for zeros < len(frac) && frac[zeros] == '0' {
		zeros++
	}
	return zeros <= 5 && len(frac)-zeros <= 15
}

func abbreviate(b []byte) string { return errcode.Abbrev(string(b), 40) }
