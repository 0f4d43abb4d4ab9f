package scalar

import (
	"slices"
	"time"

	"arxi.dev/arxi/pkg/errcode"
)

// Timestamp is an instant in UTC between 1970-01-01T00:00:00Z and
// 9999-12-31T23:59:59.999999999Z, written in RFC 3339 with exactly nine
// fractional digits and "Z" (SPEC §2).
type Timestamp struct {
	sec  int64 // seconds since the Unix epoch, ≥ 0
	nsec int32 // 0 ≤ nsec < 1e9
}

// TimestampTextLen is the length of a timestamp's text form.
const TimestampTextLen = len("2006-01-02T15:04:05.000000000Z")

const maxUnixSec = 253402300799 // 9999-12-31T23:59:59Z

// ParseTimestamp parses "YYYY-MM-DDTHH:MM:SS[.f…]Z" with 0–9 fractional
// digits. An offset, even +00:00, is input.non_utc_time; anything else that
// is not such a timestamp, or lies outside the range, is input.field_invalid.
func ParseTimestamp(s string) (Timestamp, error) {
	bad := func(why string) (Timestamp, error) {
		return Timestamp{}, errcode.New(errcode.InputFieldInvalid, "timestamp %s: %s", quoteShort(s), why)
	}
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return bad("want RFC 3339 UTC, for example 2026-11-22T10:00:00Z")
	}
	num := func(a, b int) int {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, second := num(11, 13), num(14, 16), num(17, 19)
	if year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 {
		return bad("want RFC 3339 UTC, for example 2026-11-22T10:00:00Z")
	}
	i := 19
	nsec := 0
	if s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		digits := i - start
		if digits == 0 || digits > 9 {
			return bad("want 1 to 9 fractional digits")
		}
		nsec = num(start, i)
		for range 9 - digits {
			nsec *= 10
		}
	}
	switch rest := s[i:]; {
	case rest == "Z":
	case rest == "":
		return bad("want RFC 3339 UTC ending in Z")
	case rest == "z":
		return bad("the zone designator must be an uppercase Z")
	case rest[0] == '+' || rest[0] == '-':
		return Timestamp{}, errcode.New(errcode.InputNonUTCTime, "timestamp %s must be UTC and end in Z", quoteShort(s))
	default:
		return bad("want RFC 3339 UTC ending in Z")
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59 {
		return bad("not a valid calendar date and time")
	}
	if year < 1970 {
		return bad("before 1970-01-01T00:00:00Z")
	}
	sec := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+second)
	return Timestamp{sec: sec, nsec: int32(nsec)}, nil
}

// TimestampOf converts t to a Timestamp, failing outside the range.
func TimestampOf(t time.Time) (Timestamp, error) {
	sec := t.Unix()
	if sec < 0 || sec > maxUnixSec {
		return Timestamp{}, errcode.New(errcode.InputFieldInvalid, "time %s is outside 1970..9999", t.UTC().Format(time.RFC3339))
	}
	return Timestamp{sec: sec, nsec: int32(t.Nanosecond())}, nil
}

// UnixMilliTimestamp returns the instant ms milliseconds after the epoch.
func UnixMilliTimestamp(ms int64) (Timestamp, error) {
	if ms < 0 || ms/1000 > maxUnixSec {
		return Timestamp{}, errcode.New(errcode.InputFieldInvalid, "%d milliseconds is outside 1970..9999", ms)
	}
	return Timestamp{sec: ms / 1000, nsec: int32(ms%1000) * 1e6}, nil
}

// Time returns t as a time.Time in UTC.
func (t Timestamp) Time() time.Time { return time.Unix(t.sec, int64(t.nsec)).UTC() }

// UnixMilli returns the milliseconds since the epoch.
func (t Timestamp) UnixMilli() int64 { return t.sec*1000 + int64(t.nsec)/1e6 }

// Compare returns -1, 0 or +1 as t is before, equal to or after u.
func (t Timestamp) Compare(u Timestamp) int {
	switch {
	case t.sec < u.sec || (t.sec == u.sec && t.nsec < u.nsec):
		return -1
	case t == u:
		return 0
	}
	return 1
}

// AtLeast reports whether t is at least d after u (d > 0).
func (t Timestamp) AtLeast(u Timestamp, d time.Duration) bool {
	ds, dn := int64(d/time.Second), int32(d%time.Second)
	sec, nsec := u.sec+ds, u.nsec+dn
	if nsec >= 1e9 {
		sec, nsec = sec+1, nsec-1e9
	}
	return t.Compare(Timestamp{sec: sec, nsec: nsec}) >= 0
}

// Add returns t+d, saturating at the ends of the range.
func (t Timestamp) Add(d time.Duration) Timestamp {
	sec := t.sec + int64(d/time.Second)
	nsec := t.nsec + int32(d%time.Second)
	switch {
	case nsec >= 1e9:
		sec, nsec = sec+1, nsec-1e9
	case nsec < 0:
		sec, nsec = sec-1, nsec+1e9
	}
	switch {
	case sec < 0:
		return Timestamp{}
	case sec > maxUnixSec:
		return Timestamp{sec: maxUnixSec, nsec: 999999999}
	}
	return Timestamp{sec: sec, nsec: nsec}
}

// String returns the normalised text form.
func (t Timestamp) String() string { return string(t.Append(make([]byte, 0, TimestampTextLen))) }

// Append appends the normalised text form to b.
func (t Timestamp) Append(b []byte) []byte {
	// Every constructor keeps t within 1970..9999, so the text has one
	// fixed layout, written two digits at a time.
	days := t.sec / 86400
	rem := int(t.sec % 86400)
	y, m, d := civilFromDays(days)
	n := len(b)
	b = slices.Grow(b, timestampLen)[:n+timestampLen]
	o := b[n:]
	put2(o[0:], y/100)
	put2(o[2:], y%100)
	put2(o[5:], m)
	put2(o[8:], d)
	put2(o[11:], rem/3600)
	put2(o[14:], rem%3600/60)
	put2(o[17:], rem%60)
	ns := int(t.nsec)
	put2(o[20:], ns/1e7)
	put2(o[22:], ns/1e5%100)
	put2(o[24:], ns/1e3%100)
	put2(o[26:], ns/10%100)
	o[28] = byte('0' + ns%10)
	o[4], o[7], o[10], o[13], o[16], o[19], o[29] = '-', '-', 'T', ':', ':', '.', 'Z'
	return b
}

// MarshalText implements encoding.TextMarshaler.
func (t Timestamp) MarshalText() ([]byte, error) { return t.Append(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Timestamp) UnmarshalText(b []byte) error {
	v, err := ParseTimestamp(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// timestampLen is the length of a Timestamp's text.
const timestampLen = len("2006-01-02T15:04:05.000000000Z")

// put2 writes v (0..99) as two decimal digits.
func put2(o []byte, v int) {
	o[0], o[1] = byte('0'+v/10), byte('0'+v%10)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns days since 1970-01-01 for a proleptic Gregorian date
// (Howard Hinnant's algorithm, for years ≥ 0).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = int(yoe + era*400)
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// CheckRange checks a half-open range of claimed times [since, until), as
// queries and bundle selectors take it: nil is unbounded, and a range with
// both ends must hold an instant (since before until), else usage.invalid.
func CheckRange(since, until *Timestamp) error {
	if since != nil && until != nil && since.Compare(*until) >= 0 {
		return errcode.New(errcode.UsageInvalid, "since %s is not before until %s", since, until)
	}
	return nil
}
