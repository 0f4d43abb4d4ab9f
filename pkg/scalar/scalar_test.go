package scalar

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"github.com/google/uuid"
)

func TestParseTimestamp(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		code     errcode.Code
	}{
		{in: "2026-11-22T10:00:00Z", want: "2026-11-22T10:00:00.000000000Z"},
		{in: "2026-11-22T10:00:00.001Z", want: "2026-11-22T10:00:00.001000000Z"},
		{in: "2026-11-22T10:00:00.123456789Z", want: "2026-11-22T10:00:00.123456789Z"},
		{in: "1970-01-01T00:00:00Z", want: "1970-01-01T00:00:00.000000000Z"},
		{in: "9999-12-31T23:59:59.999999999Z", want: "9999-12-31T23:59:59.999999999Z"},
		{in: "2024-02-29T00:00:00Z", want: "2024-02-29T00:00:00.000000000Z"},
		{in: "2000-02-29T12:34:56.5Z", want: "2000-02-29T12:34:56.500000000Z"},
		{in: "2026-11-22T10:00:00+00:00", code: errcode.InputNonUTCTime},
		{in: "2026-11-22T10:00:00-05:00", code: errcode.InputNonUTCTime},
		{in: "2026-11-22T10:00:00.5+01:00", code: errcode.InputNonUTCTime},
		{in: "2026-11-22T10:00:00z", code: errcode.InputFieldInvalid},
		{in: "2026-11-22T10:00:00", code: errcode.InputFieldInvalid},
		{in: "2026-11-22 10:00:00Z", code: errcode.InputFieldInvalid},
		{in: "2026-11-22t10:00:00Z", code: errcode.InputFieldInvalid},
		{in: "2026-11-22T10:00:00.Z", code: errcode.InputFieldInvalid},
		{in: "2026-11-22T10:00:00.1234567890Z", code: errcode.InputFieldInvalid},
		{in: "2023-02-29T00:00:00Z", code: errcode.InputFieldInvalid},
		{in: "1900-02-29T00:00:00Z", code: errcode.InputFieldInvalid},
		{in: "2026-13-01T00:00:00Z", code: errcode.InputFieldInvalid},
		{in: "2026-04-31T00:00:00Z", code: errcode.InputFieldInvalid},
		{in: "2026-11-22T24:00:00Z", code: errcode.InputFieldInvalid},
		{in: "2026-11-22T23:59:60Z", code: errcode.InputFieldInvalid},
		{in: "1969-12-31T23:59:59Z", code: errcode.InputFieldInvalid},
		{in: "+2026-11-22T10:00:00Z", code: errcode.InputFieldInvalid},
		{in: "２０２６-11-22T10:00:00Z", code: errcode.InputFieldInvalid},
		{in: "", code: errcode.InputFieldInvalid},
	} {
		got, err := ParseTimestamp(tc.in)
		if tc.code != "" {
			if !errors.Is(err, tc.code) {
				t.Errorf("ParseTimestamp(%q) error = %v, want %s", tc.in, err, tc.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTimestamp(%q): %v", tc.in, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("ParseTimestamp(%q) = %s, want %s", tc.in, got, tc.want)
		}
		std, _ := time.Parse(time.RFC3339Nano, tc.in)
		if !got.Time().Equal(std) {
			t.Errorf("ParseTimestamp(%q).Time() = %v, want %v", tc.in, got.Time(), std)
		}
	}
}

func TestTimestampArithmetic(t *testing.T) {
	a, _ := ParseTimestamp("2026-11-22T10:00:00Z")
	b, _ := ParseTimestamp("2026-11-22T10:00:59.999999999Z")
	c, _ := ParseTimestamp("2026-11-22T10:01:00Z")
	if b.AtLeast(a, time.Minute) || !c.AtLeast(a, time.Minute) {
		t.Errorf("AtLeast at a one-minute boundary is wrong")
	}
	if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 {
		t.Errorf("Compare is wrong")
	}
	if got := a.Add(-time.Second).String(); got != "2026-11-22T09:59:59.000000000Z" {
		t.Errorf("Add(-1s) = %s", got)
	}
	if got := a.UnixMilli(); got != 1795341600000 {
		t.Errorf("UnixMilli = %d", got)
	}
	max, _ := ParseTimestamp("9999-12-31T23:59:59.999999999Z")
	if max.Add(time.Hour) != max {
		t.Errorf("Add does not saturate")
	}
}

func TestParseUUID(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"01a202b2-c500-7fca-84b6-746b5f17ba11", true},
		{"01A202B2-C500-7FCA-84B6-746B5F17BA11", false}, // uppercase
		{"01a202b2-c500-4fca-84b6-746b5f17ba11", false}, // v4
		{"01a202b2-c500-7fca-c4b6-746b5f17ba11", false}, // variant
		{"01a202b2c5007fca84b6746b5f17ba11", false},
		{"{01a202b2-c500-7fca-84b6-746b5f17ba11}", false},
		{"urn:uuid:01a202b2-c500-7fca-84b6-746b5f17ba11", false},
		{"01a202b2-c500-7fca-84b6-746b5f17ba1g", false},
		{"00000000-0000-0000-0000-000000000000", false},
		{"", false},
	} {
		u, err := ParseUUID(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseUUID(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
		}
		if err == nil && u.String() != tc.in {
			t.Errorf("ParseUUID(%q).String() = %s", tc.in, u)
		}
		if err != nil && !errors.Is(err, errcode.InputFieldInvalid) {
			t.Errorf("ParseUUID(%q) code = %v", tc.in, err)
		}
	}
}

func TestDeriveUUID7(t *testing.T) {
	ts, _ := ParseTimestamp("2026-11-22T10:00:00.001Z")
	u := DeriveUUID7(ts, []byte("seed"))
	if got := u.String()[:13]; got != "01a202b2-c501" {
		t.Errorf("time prefix = %s, want 01a202b2-c501", got)
	}
	if _, err := ParseUUID(u.String()); err != nil {
		t.Errorf("derived UUID does not parse: %v", err)
	}
	if DeriveUUID7(ts, []byte("seed")) != u || DeriveUUID7(ts, []byte("other")) == u {
		t.Errorf("derivation is not a function of its seed")
	}
	r, err := NewRandomUUID7()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseUUID(r.String()); err != nil {
		t.Errorf("random UUID does not parse: %v", err)
	}
}

func TestParseDigest(t *testing.T) {
	good := "sha256:" + strings.Repeat("ab", 32)
	d, err := ParseDigest(good)
	if err != nil || d.String() != good {
		t.Fatalf("ParseDigest(%q) = %v, %v", good, d, err)
	}
	for _, in := range []string{
		"sha256:" + strings.Repeat("AB", 32),
		"sha512:" + strings.Repeat("ab", 32),
		"SHA256:" + strings.Repeat("ab", 32),
		"sha256:" + strings.Repeat("ab", 31),
		strings.Repeat("ab", 32),
		"",
	} {
		var target Digest = d
		if err := target.UnmarshalText([]byte(in)); !errors.Is(err, errcode.InputFieldInvalid) {
			t.Errorf("UnmarshalText(%q) error = %v", in, err)
		}
		if target != d {
			t.Errorf("UnmarshalText(%q) half-wrote the receiver", in)
		}
	}
	if _, err := ParseKeyID(strings.Repeat("0f", 32)); err != nil {
		t.Errorf("ParseKeyID: %v", err)
	}
	if _, err := ParseKeyID(strings.Repeat("0F", 32)); err == nil {
		t.Errorf("ParseKeyID accepted uppercase")
	}
}

func TestIdentifiers(t *testing.T) {
	for _, tc := range []struct {
		in    string
		token bool
		label bool
	}{
		{"tool.call", true, true},
		{"system.adapter.key_rotated", true, true},
		{"a", true, true},
		{"0-9._:/x", true, true},
		{"Tool.Call", false, true},
		{".call", false, true},
		{"-x", false, true},
		{"tool call", false, true},
		{"agent:alpha", true, true},
		{"café", false, true},
		{"", false, false},
		{"   ", false, false},
		{"\u3000", false, false}, // ideographic space only
		{"a\x00b", false, false},
		{"a\nb", false, false},
		{"a\x7fb", false, false},
		{"a\u0085b", false, false},
		{"a\xffb", false, false},
		{strings.Repeat("a", 128), true, true},
		{strings.Repeat("a", 129), false, true},
		{strings.Repeat("a", 256), false, true},
		{strings.Repeat("a", 257), false, false},
	} {
		_, terr := ParseToken(tc.in)
		_, lerr := ParseLabel(tc.in)
		if (terr == nil) != tc.token {
			t.Errorf("ParseToken(%q) error = %v, want ok=%v", tc.in, terr, tc.token)
		}
		if (lerr == nil) != tc.label {
			t.Errorf("ParseLabel(%q) error = %v, want ok=%v", tc.in, lerr, tc.label)
		}
	}
	if _, err := ParseContentType(strings.Repeat("a", 256)); err == nil {
		t.Errorf("ParseContentType accepted 256 bytes")
	}
}

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{"2026-11-22T10:00:00Z", "2026-11-22T10:00:00.123456789Z", "9999-12-31T23:59:59.999999999Z", "2026-11-22T10:00:00+00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTimestamp(s)
		if err != nil {
			return
		}
		again, err := ParseTimestamp(ts.String())
		if err != nil || again != ts {
			t.Fatalf("%q -> %s does not round-trip: %v", s, ts, err)
		}
		if len(ts.String()) != TimestampTextLen {
			t.Fatalf("%q -> %s is not normalised", s, ts)
		}
		std, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !std.Equal(ts.Time()) {
			t.Fatalf("%q: time.Parse = %v, %v; ours %v", s, std, err, ts.Time())
		}
	})
}

func FuzzParseUUID(f *testing.F) {
	f.Add("01a202b2-c500-7fca-84b6-746b5f17ba11")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUUID(s)
		if err != nil {
			return
		}
		if u.String() != s {
			t.Fatalf("%q round-trips to %q", s, u)
		}
	})
}

func FuzzParseDigest(f *testing.F) {
	f.Add("sha256:" + strings.Repeat("ab", 32))
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		if err != nil {
			return
		}
		if d.String() != s {
			t.Fatalf("%q round-trips to %q", s, d)
		}
	})
}

// TestDigestEveryByte puts each byte value at the first and last hex
// position: only 0-9 and a-f parse.
func TestDigestEveryByte(t *testing.T) {
	for c := range 256 {
		want := ('0' <= c && c <= '9') || ('a' <= c && c <= 'f')
		for _, pos := range []int{0, 63} {
			h := []byte(strings.Repeat("0", 64))
			h[pos] = byte(c)
			_, err := ParseDigest("sha256:" + string(h))
			if (err == nil) != want {
				t.Errorf("byte %#x at %d: err %v, want ok=%v", c, pos, err, want)
			}
		}
	}
}

// TestHexAppend: digests, key ids and UUIDs are written as encoding/hex and
// github.com/google/uuid write them, after what b holds, for every byte
// value in every place.
func TestHexAppend(t *testing.T) {
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	if got, want := appendHex([]byte("x"), every), hex.AppendEncode([]byte("x"), every); !bytes.Equal(got, want) {
		t.Fatalf("appendHex = %s, want %s", got, want)
	}
	for i := range 256 {
		var d Digest
		var u UUID
		for j := range d {
			d[j] = byte(i + 7*j)
		}
		for j := range u {
			u[j] = byte(i + 11*j)
		}
		if got, want := string(d.Append([]byte("x"))), "xsha256:"+hex.EncodeToString(d[:]); got != want {
			t.Fatalf("Digest.Append = %s, want %s", got, want)
		}
		if got, want := string(u.Append([]byte("x"))), "x"+uuid.UUID(u).String(); got != want {
			t.Fatalf("UUID.Append = %s, want %s", got, want)
		}
		if got, want := KeyID(d).String(), hex.EncodeToString(d[:]); got != want || string(KeyID(d).Append(nil)) != want {
			t.Fatalf("KeyID = %s, want %s", got, want)
		}
	}
}

// TestTimestampAppend: every instant of the range is written as the time
// package writes it, at the bounds and on random instants.
func TestTimestampAppend(t *testing.T) {
	lo, hi := time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	times := []time.Time{lo, hi, time.Date(2000, 2, 29, 1, 2, 3, 4, time.UTC), time.Date(2026, 11, 22, 10, 0, 0, 120000000, time.UTC)}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		times = append(times, time.Unix(rng.Int64N(hi.Unix()+1), rng.Int64N(1e9)))
	}
	for _, tm := range times {
		ts, err := TimestampOf(tm)
		if err != nil {
			t.Fatal(tm, err)
		}
		if got, want := string(ts.Append([]byte("x"))), "x"+tm.UTC().Format("2006-01-02T15:04:05.000000000Z"); got != want {
			t.Fatalf("Append(%v) = %s, want %s", tm, got, want)
		}
	}
}
