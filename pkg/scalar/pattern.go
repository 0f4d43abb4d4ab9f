package scalar

// The patterns of the scalars, for the JSON Schemas of the contract
// (docs/generated): regular expressions in the common subset of ECMA-262
// (which JSON Schema names) and Go's RE2 syntax. Each is checked against
// its constructor by a test and a fuzz target, so that what the schemas
// say and what the decoders accept cannot drift apart. Where a rule is
// beyond a regular expression it is said beside the pattern.
const (
	// DigestPattern is exact.
	DigestPattern = `^sha256:[0-9a-f]{64}$`
	// KeyIDPattern is exact.
	KeyIDPattern = `^[0-9a-f]{64}$`
	// UUIDPattern is exact: lowercase, version 7, the RFC 9562 variant.
	UUIDPattern = `^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`
	// TokenPattern is exact with a length of 1 to MaxTokenLen (ASCII, so
	// characters are bytes).
	TokenPattern = `^[a-z0-9][a-z0-9._:/-]*$`
	// TextPattern is the rule of a Label or ContentType: no control
	// character (U+0000–U+001F, U+007F–U+009F) and at least one character
	// that is not white space (unicode.IsSpace). The byte length (MaxLabelLen,
	// MaxContentTypeLen) is beyond it: JSON Schema counts characters.
	TextPattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\\x00-\\x1f\\x7f-\\x9f]*$"
	// TimestampPattern is the form ParseTimestamp accepts: a year from 1970,
	// the days each month can have, 0 to 9 fractional digits, Z. February
	// 29 of a common year is beyond it; the schemas add format date-time,
	// which a validator that asserts formats checks.
	TimestampPattern = `^(19[7-9][0-9]|[2-9][0-9]{3})-` +
		`((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-9]))` +
		`T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?Z$`
)
