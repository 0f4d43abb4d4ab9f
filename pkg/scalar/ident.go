package scalar

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"arxi.dev/arxi/pkg/errcode"
)

// Token is an event_type or adapter_id: 1–128 bytes matching
// ^[a-z0-9][a-z0-9._:/-]*$.
type Token struct{ s string }

// MaxTokenLen is the longest Token in bytes.
const MaxTokenLen = 128

// ParseToken validates s as a Token.
func ParseToken(s string) (Token, error) {
	if len(s) == 0 || len(s) > MaxTokenLen {
		return Token{}, errcode.New(errcode.InputFieldInvalid, "%s must be 1 to %d bytes", quoteShort(s), MaxTokenLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		lowerDigit := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if !lowerDigit && (i == 0 || (c != '.' && c != '_' && c != ':' && c != '/' && c != '-')) {
			return Token{}, errcode.New(errcode.InputFieldInvalid, "%s must match ^[a-z0-9][a-z0-9._:/-]*$", quoteShort(s))
		}
	}
	return Token{s}, nil
}

// MustToken is ParseToken for constants; it panics on an invalid literal.
func MustToken(s string) Token {
	t, err := ParseToken(s)
	if err != nil {
		panic(err)
	}
	return t
}

// String returns the token.
func (t Token) String() string { return t.s }

// IsZero reports whether t is the zero value (no token).
func (t Token) IsZero() bool { return t.s == "" }

// MarshalText implements encoding.TextMarshaler.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.s), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Token) UnmarshalText(b []byte) error {
	v, err := ParseToken(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Label is an actor_id, environment_id, trace_id, session_id or
// recorder_id: 1–256 bytes of UTF-8, not blank, without control characters
// (U+0000–U+001F, U+007F–U+009F). The zero Label stands for an absent
// optional value (JSON null).
type Label struct{ s string }

// MaxLabelLen is the longest Label in bytes.
const MaxLabelLen = 256

// ParseLabel validates s as a Label.
func ParseLabel(s string) (Label, error) {
	if err := checkText(s, MaxLabelLen); err != nil {
		return Label{}, err
	}
	return Label{s}, nil
}

// MustLabel is ParseLabel for constants; it panics on an invalid literal.
func MustLabel(s string) Label {
	l, err := ParseLabel(s)
	if err != nil {
		panic(err)
	}
	return l
}

// String returns the label.
func (l Label) String() string { return l.s }

// IsZero reports whether l is absent.
func (l Label) IsZero() bool { return l.s == "" }

// MarshalText implements encoding.TextMarshaler.
func (l Label) MarshalText() ([]byte, error) { return []byte(l.s), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *Label) UnmarshalText(b []byte) error {
	v, err := ParseLabel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// ContentType is an attachment's content type: the Label rules with at most
// 255 bytes. It should be a MIME type; Arxi does not parse it.
type ContentType struct{ s string }

// MaxContentTypeLen is the longest ContentType in bytes.
const MaxContentTypeLen = 255

// ParseContentType validates s as a ContentType.
func ParseContentType(s string) (ContentType, error) {
	if err := checkText(s, MaxContentTypeLen); err != nil {
		return ContentType{}, err
	}
	return ContentType{s}, nil
}

// MustContentType is ParseContentType for constants.
func MustContentType(s string) ContentType {
	c, err := ParseContentType(s)
	if err != nil {
		panic(err)
	}
	return c
}

// String returns the content type.
func (c ContentType) String() string { return c.s }

// MarshalText implements encoding.TextMarshaler.
func (c ContentType) MarshalText() ([]byte, error) { return []byte(c.s), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *ContentType) UnmarshalText(b []byte) error {
	v, err := ParseContentType(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

func checkText(s string, max int) error {
	if len(s) == 0 || len(s) > max {
		return errcode.New(errcode.InputFieldInvalid, "%s must be 1 to %d bytes", quoteShort(s), max)
	}
	blank := true
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return errcode.New(errcode.InputFieldInvalid, "%s is not valid UTF-8", quoteShort(s))
			}
		}
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return errcode.New(errcode.InputFieldInvalid, "%s contains control character U+%04X", quoteShort(s), r)
		}
		if blank && !unicode.IsSpace(r) {
			blank = false
		}
	}
	if blank {
		return errcode.New(errcode.InputFieldInvalid, "%s is blank", quoteShort(s))
	}
	return nil
}

func quote(s string) string { return strconv.Quote(s) }
