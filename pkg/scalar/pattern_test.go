package scalar

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// patterns pairs each pattern with its constructor. A JSON Schema
// validator accepts a string when the pattern matches and its length in
// characters is within bounds (and, for a timestamp, format date-time
// holds); accepts says so.
var patterns = []struct {
	name          string
	re            *regexp.Regexp
	minLen, maxLn int
	parse         func(string) error
	dateTime      bool
}{
	{"digest", regexp.MustCompile(DigestPattern), 0, 0, func(s string) error { _, err := ParseDigest(s); return err }, false},
	{"key_id", regexp.MustCompile(KeyIDPattern), 0, 0, func(s string) error { _, err := ParseKeyID(s); return err }, false},
	{"uuid", regexp.MustCompile(UUIDPattern), 0, 0, func(s string) error { _, err := ParseUUID(s); return err }, false},
	{"token", regexp.MustCompile(TokenPattern), 1, MaxTokenLen, func(s string) error { _, err := ParseToken(s); return err }, false},
	{"label", regexp.MustCompile(TextPattern), 1, MaxLabelLen, func(s string) error { _, err := ParseLabel(s); return err }, false},
	{"content_type", regexp.MustCompile(TextPattern), 1, MaxContentTypeLen, func(s string) error { _, err := ParseContentType(s); return err }, false},
	{"timestamp", regexp.MustCompile(TimestampPattern), 0, 0, func(s string) error { _, err := ParseTimestamp(s); return err }, true},
}

func accepts(re *regexp.Regexp, minLen, maxLen int, dateTime bool, s string) bool {
	n := utf8.RuneCountInString(s)
	if !re.MatchString(s) || n < minLen || (maxLen > 0 && n > maxLen) {
		return false
	}
	if dateTime {
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return false
		}
	}
	return true
}

// agree checks that the pattern and the constructor agree on s. Strings
// that are not UTF-8 cannot be JSON strings; a Label or ContentType
// longer in bytes than its limit but not in characters is the one rule
// the pattern leaves to the decoder.
func agree(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		return
	}
	for _, p := range patterns {
		schema := accepts(p.re, p.minLen, p.maxLn, p.dateTime, s)
		ctor := p.parse(s) == nil
		if schema == ctor {
			continue
		}
		if !ctor && schema && p.maxLn > 0 && len(s) > p.maxLn {
			continue
		}
		t.Errorf("%s %q: pattern accepts %v, constructor %v", p.name, s, schema, ctor)
	}
}

func TestPatterns(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	for _, s := range []string{
		"", "sha256:" + hex, "sha256:" + strings.ToUpper(hex), "sha512:" + hex, "sha256:" + hex[1:], hex, hex + "0",
		"01a202b2-c500-7748-bb0a-c67fa3eabe09", "01a202b2-c500-4748-bb0a-c67fa3eabe09", "01a202b2-c500-7748-cb0a-c67fa3eabe09",
		"01A202B2-C500-7748-BB0A-C67FA3EABE09", "{01a202b2-c500-7748-bb0a-c67fa3eabe09}",
		"tool.call", "Tool.Call", ".tool", "a", strings.Repeat("a", 128), strings.Repeat("a", 129), "a b", "a/b:c-d_e.f",
		"agent:alpha", "   ", "\u00a0", "\u3000x", "a\u0085", "a\u0007", "a\u007f", "a\u009f", "a\u00a0", "\ufeff", "é",
		strings.Repeat("é", 128), strings.Repeat("é", 129), strings.Repeat("x", 256), strings.Repeat("x", 257), "\u2028", "a\u2028b",
		"2026-11-22T10:00:00Z", "2026-11-22T10:00:00.123456789Z", "2026-11-22T10:00:00.1234567890Z", "2026-11-22T10:00:00+00:00",
		"2026-11-22T10:00:00z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-04-30T23:59:59Z", "2026-11-22T24:00:00Z", "2026-11-22T23:59:60Z", "1969-12-31T23:59:59Z",
		"1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "2026-11-22T10:00:00.Z", "2026-00-10T00:00:00Z",
	} {
		agree(t, s)
	}
}

// FuzzPatterns: on any string the patterns and the constructors agree.
func FuzzPatterns(f *testing.F) {
	for _, s := range []string{"sha256:" + strings.Repeat("ab", 32), "01a202b2-c500-7748-bb0a-c67fa3eabe09", "tool.call",
		"agent \"α\"", "2026-11-22T10:00:00.5Z", "2024-02-29T00:00:00Z", strings.Repeat("ab", 32)} {
		f.Add(s)
	}
	f.Fuzz(agree)
}
