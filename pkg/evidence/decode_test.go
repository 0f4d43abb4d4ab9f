package evidence

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/google/go-cmp/cmp"
)

// decodeJSON canonicalises src the way a stream reader does, then decodes.
func decodeJSON(t testing.TB, src string, lim Limits) (Record, error) {
	t.Helper()
	rec, _, err := NewDecoder(lim).Unsealed(nil, []byte(src))
	return rec, err
}

const base = `"event_type":"tool.call","actor_id":"agent:alpha","environment_id":"prod","adapter_id":"example","claimed_at":"2026-11-22T10:00:00Z","payload":{"q":1}`

func TestDecodeUnsealed(t *testing.T) {
	rec, err := decodeJSON(t, `{`+base+`,"trace_id":"t-1","session_id":null,"record":"unsealed","schema_version":1,`+
		`"envelope_id":"01a202b2-c500-7748-bb0a-c67fa3eabe09","attachments":[{"content_type":"text/plain","data":"aGk="},`+
		`{"content_type":"application/json","hash":"sha256:`+strings.Repeat("00", 32)+`","size":2}]}`, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	u := rec.(*Unsealed)
	if u.TraceID.String() != "t-1" || !u.SessionID.IsZero() || u.EnvelopeID.IsZero() || u.Payload != `{"q":1}` {
		t.Errorf("decoded %+v", u)
	}
	// Sorted by hash: the all-zero reference first, then the inline blob.
	if len(u.Attachments) != 2 || u.Data[0] != nil || string(u.Data[1]) != "hi" || u.Attachments[1].Size != 2 {
		t.Errorf("attachments = %+v data = %q", u.Attachments, u.Data)
	}
}

// rejectCase is an input a decoder rejects, with the code and field of
// its error; schema_test.go checks that the schema rejects it too.
type rejectCase struct {
	name, in string
	code     errcode.Code
	field    string
}

var rejectHash = `"sha256:` + strings.Repeat("ab", 32) + `"`

var unsealedRejects = []rejectCase{
	{"unknown field", `{` + base + `,"extra":1}`, errcode.InputUnknownField, "extra"},
	{"missing payload", `{"event_type":"a","actor_id":"a","environment_id":"e","adapter_id":"x","claimed_at":"2026-11-22T10:00:00Z"}`, errcode.InputMissingField, "payload"},
	{"missing actor", `{"event_type":"a","environment_id":"e","adapter_id":"x","claimed_at":"2026-11-22T10:00:00Z","payload":null}`, errcode.InputMissingField, "actor_id"},
	{"missing claimed_at", `{"event_type":"a","actor_id":"a","environment_id":"e","adapter_id":"x","payload":1}`, errcode.InputMissingField, "claimed_at"},
	{"non-UTC time", strings.Replace(`{`+base+`}`, `10:00:00Z`, `10:00:00+00:00`, 1), errcode.InputNonUTCTime, "claimed_at"},
	{"bad time", strings.Replace(`{`+base+`}`, `10:00:00Z`, `25:00:00Z`, 1), errcode.InputFieldInvalid, "claimed_at"},
	{"time as number", strings.Replace(`{`+base+`}`, `"2026-11-22T10:00:00Z"`, `1795341600`, 1), errcode.InputFieldInvalid, "claimed_at"},
	{"uppercase event type", strings.Replace(`{`+base+`}`, `"tool.call"`, `"Tool.Call"`, 1), errcode.InputFieldInvalid, "event_type"},
	{"event type too long", strings.Replace(`{`+base+`}`, `"tool.call"`, `"`+strings.Repeat("a", 129)+`"`, 1), errcode.InputFieldInvalid, "event_type"},
	{"blank actor", strings.Replace(`{`+base+`}`, `"agent:alpha"`, `"   "`, 1), errcode.InputFieldInvalid, "actor_id"},
	{"empty actor", strings.Replace(`{`+base+`}`, `"agent:alpha"`, `""`, 1), errcode.InputFieldInvalid, "actor_id"},
	{"control char in environment", strings.Replace(`{`+base+`}`, `"prod"`, `"pr\u0007od"`, 1), errcode.InputFieldInvalid, "environment_id"},
	{"C1 control in actor", strings.Replace(`{`+base+`}`, `"agent:alpha"`, `"a\u0085"`, 1), errcode.InputFieldInvalid, "actor_id"},
	{"actor too long", strings.Replace(`{`+base+`}`, `"agent:alpha"`, `"`+strings.Repeat("é", 129)+`"`, 1), errcode.InputFieldInvalid, "actor_id"},
	{"trace id not a string", `{` + base + `,"trace_id":7}`, errcode.InputFieldInvalid, "trace_id"},
	{"uuid v4", `{` + base + `,"envelope_id":"01a202b2-c500-4748-bb0a-c67fa3eabe09"}`, errcode.InputFieldInvalid, "envelope_id"},
	{"uppercase uuid", `{` + base + `,"envelope_id":"01A202B2-C500-7748-BB0A-C67FA3EABE09"}`, errcode.InputFieldInvalid, "envelope_id"},
	{"schema version 2", `{` + base + `,"schema_version":2}`, errcode.InputFieldInvalid, "schema_version"},
	{"schema version string", `{` + base + `,"schema_version":"1"}`, errcode.InputFieldInvalid, "schema_version"},
	{"record envelope in unsealed shape", `{` + base + `,"record":"envelope"}`, errcode.InputMissingField, "attachments"},
	{"record bogus", `{` + base + `,"record":"bogus"}`, errcode.InputFieldInvalid, "record"},
	{"attachments not array", `{` + base + `,"attachments":{}}`, errcode.InputFieldInvalid, "attachments"},
	{"bad base64", `{` + base + `,"attachments":[{"content_type":"text/plain","data":"a$=="}]}`, errcode.InputFieldInvalid, "attachments[0].data"},
	{"unpadded base64", `{` + base + `,"attachments":[{"content_type":"text/plain","data":"aGk"}]}`, errcode.InputFieldInvalid, "attachments[0].data"},
	{"url base64", `{` + base + `,"attachments":[{"content_type":"text/plain","data":"_-8="}]}`, errcode.InputFieldInvalid, "attachments[0].data"},
	{"empty attachment", `{` + base + `,"attachments":[{"content_type":"text/plain","data":""}]}`, errcode.InputFieldInvalid, "attachments[0].data"},
	{"inline with hash", `{` + base + `,"attachments":[{"content_type":"text/plain","data":"aGk=","hash":` + rejectHash + `}]}`, errcode.InputFieldInvalid, "attachments[0]"},
	{"ref without size", `{` + base + `,"attachments":[{"content_type":"text/plain","hash":` + rejectHash + `}]}`, errcode.InputMissingField, "attachments[0].size"},
	{"ref size zero", `{` + base + `,"attachments":[{"content_type":"text/plain","hash":` + rejectHash + `,"size":0}]}`, errcode.InputFieldInvalid, "attachments[0].size"},
	{"ref bad hash", `{` + base + `,"attachments":[{"content_type":"text/plain","hash":"md5:00","size":1}]}`, errcode.InputFieldInvalid, "attachments[0].hash"},
	{"missing content type", `{` + base + `,"attachments":[{"data":"aGk="}]}`, errcode.InputMissingField, "attachments[0].content_type"},
	{"unknown attachment key", `{` + base + `,"attachments":[{"content_type":"a","data":"aGk=","name":"x"}]}`, errcode.InputUnknownField, "attachments[0].name"},
	{"duplicate reference", `{` + base + `,"attachments":[{"content_type":"a","data":"aGk="},{"content_type":"a","data":"aGk="}]}`, errcode.InputFieldInvalid, "attachments"},
	{"not an object", `[1,2]`, errcode.InputMalformedJSON, ""},
}

func TestDecodeUnsealedRejects(t *testing.T) {
	for _, tc := range unsealedRejects {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeJSON(t, tc.in, DefaultLimits)
			if !errors.Is(err, tc.code) {
				t.Fatalf("error = %v, want %s", err, tc.code)
			}
			if e, _ := errcode.As(err); tc.field != "" && e.Field != tc.field {
				t.Errorf("field = %q, want %q (%v)", e.Field, tc.field, err)
			}
		})
	}
}

func TestDecodeLimits(t *testing.T) {
	lim := Limits{Line: 1 << 20, Payload: 16, Attachment: 4, AttachmentRefs: 2}
	if _, err := decodeJSON(t, `{`+strings.Replace(base, `{"q":1}`, `"`+strings.Repeat("x", 20)+`"`, 1)+`}`, lim); !errors.Is(err, errcode.InputTooLarge) {
		t.Errorf("large payload: %v", err)
	}
	if _, err := decodeJSON(t, `{`+base+`,"attachments":[{"content_type":"a","data":"`+base64.StdEncoding.EncodeToString([]byte("12345"))+`"}]}`, lim); !errors.Is(err, errcode.InputTooLarge) {
		t.Errorf("large attachment: %v", err)
	}
	three := `{"content_type":"a","data":"YQ=="},{"content_type":"a","data":"Yg=="},{"content_type":"a","data":"Yw=="}`
	if _, err := decodeJSON(t, `{`+base+`,"attachments":[`+three+`]}`, lim); !errors.Is(err, errcode.InputTooLarge) {
		t.Errorf("too many attachments: %v", err)
	}
	deep := strings.Repeat("[", 64) + strings.Repeat("]", 64)
	if _, err := decodeJSON(t, `{`+strings.Replace(base, `{"q":1}`, deep, 1)+`}`, DefaultLimits); err != nil {
		t.Errorf("payload of depth 64: %v", err)
	}
	deeper := strings.Repeat("[", 65) + strings.Repeat("]", 65)
	if _, err := decodeJSON(t, `{`+strings.Replace(base, `{"q":1}`, deeper, 1)+`}`, DefaultLimits); !errors.Is(err, errcode.InputTooDeep) {
		t.Errorf("payload of depth 65: %v", err)
	}
}

func sampleRecords() []Record {
	ts, _ := scalar.ParseTimestamp("2026-11-22T10:00:00.5Z")
	seg, _ := scalar.ParseUUID("01a202b2-c500-7fca-84b6-746b5f17ba11")
	env := &Envelope{
		Content: Content{
			EnvelopeID: scalar.DeriveUUID7(ts, []byte("e")), EventType: scalar.MustToken("tool.call"),
			ActorID: scalar.MustLabel("agent \"α\" \\ x"), EnvironmentID: scalar.MustLabel("prod"),
			AdapterID: scalar.MustToken("ex"), TraceID: scalar.MustLabel("t\u2028"), ClaimedAt: ts,
			Payload:     `{"a":[1,"\u0000"],"b":null}`,
			Attachments: []AttachmentRef{{ContentType: scalar.MustContentType("text/plain; charset=\"utf-8\""), Hash: scalar.Sum([]byte("x")), Size: 1}},
		},
		SegmentID: seg, Sequence: 42, ContentHash: scalar.Sum([]byte("c")), ChainHash: scalar.Sum([]byte("h")),
		Signatures: []Signature{{KeyID: scalar.KeyID(scalar.Sum([]byte("k1")))}, {KeyID: scalar.KeyID(scalar.Sum([]byte("k2")))}},
	}
	if bytes.Compare(env.Signatures[0].KeyID[:], env.Signatures[1].KeyID[:]) > 0 {
		env.Signatures[0], env.Signatures[1] = env.Signatures[1], env.Signatures[0]
	}
	u := &Unsealed{Content: env.Content}
	u.SetAttachments([]AttachmentRef{{ContentType: scalar.MustContentType("a"), Hash: scalar.Sum([]byte("hi")), Size: 2}}, [][]byte{[]byte("hi")})
	return []Record{
		NewGenesis(seg, scalar.MustLabel("rec"), ts, nil),
		NewGenesis(seg, scalar.MustLabel("rec"), ts, &Link{SegmentID: seg, ChainHead: scalar.Sum([]byte("p"))}),
		NewAttachment([]byte{0, 1, 2, 255}),
		env,
		env.Elided(),
		&Seal{SegmentID: seg, EnvelopeCount: 42, HeadChainHash: env.ChainHash, MerkleRoot: scalar.Sum(nil), Reason: SealAutoDuration, SealedAt: ts},
		u,
		&Seal{SegmentID: seg, EnvelopeCount: 42, HeadChainHash: env.ChainHash, MerkleRoot: scalar.Sum(nil), Reason: SealEndOfStream, SealedAt: ts,
			Signatures: env.Signatures},
	}
}

// TestRoundTrip checks that every record writes a canonical line and reads
// back to an equal value.
func TestRoundTrip(t *testing.T) {
	for _, rec := range sampleRecords() {
		t.Run(rec.Kind().String(), func(t *testing.T) {
			line := rec.AppendJCS(nil)
			if !canonical.IsCanonical(line) {
				t.Fatalf("AppendJCS is not canonical: %s", line)
			}
			back, err := NewDecoder(DefaultLimits).Sealed(line)
			if err != nil {
				t.Fatalf("Sealed(%s): %v", line, err)
			}
			if diff := cmp.Diff(rec, back, cmp.AllowUnexported(scalar.Token{}, scalar.Label{}, scalar.ContentType{}, scalar.Timestamp{}, Merkle{})); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// sealedRejects are sealed records a decoder rejects, made from the
// samples.
func sealedRejects() []rejectCase {
	recs := sampleRecords()
	env := string(recs[3].AppendJCS(nil))
	gen := string(recs[1].AppendJCS(nil))
	seal := string(recs[5].AppendJCS(nil))
	signed := string(recs[7].AppendJCS(nil))
	return []rejectCase{
		{"envelope missing signatures", strings.Replace(env, `"signatures":[`, `"signaturez":[`, 1), errcode.InputUnknownField, ""},
		{"envelope sequence zero", strings.Replace(env, `"sequence":42`, `"sequence":0`, 1), errcode.InputFieldInvalid, ""},
		{"envelope sequence negative", strings.Replace(env, `"sequence":42`, `"sequence":-1`, 1), errcode.InputFieldInvalid, ""},
		{"envelope sequence fraction", strings.Replace(env, `"sequence":42`, `"sequence":4.5`, 1), errcode.InputFieldInvalid, ""},
		{"envelope bad digest", strings.Replace(env, `"content_hash":"sha256:`, `"content_hash":"sha512:`, 1), errcode.InputFieldInvalid, ""},
		{"signature wrong algorithm", strings.Replace(env, `"algorithm":"ed25519"`, `"algorithm":"rsa"`, 1), errcode.InputFieldInvalid, ""},
		{"signature short", strings.Replace(env, `AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==`, `AAAA`, 1), errcode.InputFieldInvalid, ""},
		{"genesis half predecessor", strings.Replace(gen, `"predecessor_segment_id":"01a202b2-c500-7fca-84b6-746b5f17ba11"`, `"predecessor_segment_id":null`, 1), errcode.InputFieldInvalid, ""},
		{"genesis other algorithm", strings.Replace(gen, `"hash_algorithm":"sha256"`, `"hash_algorithm":"sha512"`, 1), errcode.InputFieldInvalid, ""},
		{"seal unknown reason", strings.Replace(seal, `"auto_duration"`, `"whim"`, 1), errcode.InputFieldInvalid, ""},
		{"seal missing count", strings.Replace(seal, `"envelope_count":42,`, ``, 1), errcode.InputMissingField, ""},
		{"seal empty signatures", strings.Replace(seal, `"}`, `","signatures":[]}`, 1), errcode.InputFieldInvalid, ""},
		{"seal signature short", strings.Replace(signed, `AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==`, `AAAA`, 1), errcode.InputFieldInvalid, ""},
	}
}

// unsortedSigs swaps the two signatures of a signed seal line.
func unsortedSigs(line string) string {
	i := strings.Index(line, `"signatures":[`) + len(`"signatures":[`)
	sigs := strings.SplitN(line[i+1:len(line)-3], "},{", 2)
	return line[:i] + "{" + sigs[1] + "},{" + sigs[0] + "}]}"
}

func TestDecodeSealedRejects(t *testing.T) {
	recs := sampleRecords()
	env := string(recs[3].AppendJCS(nil))
	gen := string(recs[1].AppendJCS(nil))
	seal := string(recs[5].AppendJCS(nil))
	for _, tc := range sealedRejects() {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in == env || tc.in == gen || tc.in == seal {
				t.Fatal("mutation did not apply")
			}
			if _, err := decodeJSON(t, tc.in, DefaultLimits); !errors.Is(err, tc.code) {
				t.Errorf("error = %v, want %s", err, tc.code)
			}
		})
	}
	// Unsorted signatures and attachments are rejected, not re-sorted: the
	// bytes are what was hashed and signed.
	if _, err := decodeJSON(t, unsortedSigs(string(recs[7].AppendJCS(nil))), DefaultLimits); !errors.Is(err, errcode.InputFieldInvalid) {
		t.Errorf("seal with unsorted signatures: %v", err)
	}
	e := *recs[3].(*Envelope)
	e.Signatures = []Signature{e.Signatures[1], e.Signatures[0]}
	if _, err := NewDecoder(DefaultLimits).Sealed(e.AppendJCS(nil)); !errors.Is(err, errcode.InputFieldInvalid) {
		t.Errorf("unsorted signatures: %v", err)
	}
}

// FuzzDecode feeds arbitrary lines through the unsealed path
// (canonicalise, then decode): nothing panics, and whatever decodes
// re-encodes to a canonical line that decodes to the same record.
func FuzzDecode(f *testing.F) {
	for _, rec := range sampleRecords() {
		f.Add(rec.AppendJCS(nil))
	}
	f.Add([]byte(`{` + base + `}`))
	d := NewDecoder(DefaultLimits)
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, _, err := d.Unsealed(nil, line)
		if err != nil {
			if _, ok := errcode.As(err); !ok {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out := rec.AppendJCS(nil)
		if !canonical.IsCanonical(out) {
			t.Fatalf("re-encoding is not canonical: %s", out)
		}
		again, _, err := d.Unsealed(nil, out)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v\n%s", err, out)
		}
		if !bytes.Equal(again.AppendJCS(nil), out) {
			t.Fatalf("second round trip differs")
		}
	})
}

// FuzzSealedNormalForm: Decoder.Sealed accepts a line exactly when it is
// canonical, decodes, and is byte for byte what AppendJCS writes for the
// record it holds (the rule "a sealed line is exactly its record's normal
// form", which Sealed checks field by field instead of re-encoding).
func FuzzSealedNormalForm(f *testing.F) {
	for _, rec := range sampleRecords() {
		line := rec.AppendJCS(nil)
		f.Add(line)
		f.Add(bytes.Replace(line, []byte(".500000000Z"), []byte(".5Z"), 1))
		f.Add(bytes.Replace(line, []byte(`AAAAAAAA`), []byte(`AAAA\nAAAA`), 1))
		f.Add(bytes.Replace(line, []byte(`"AAEC/w=="`), []byte(`"AAEC\r\n/w=="`), 1))
	}
	sealed, ref := NewDecoder(DefaultLimits), NewDecoder(DefaultLimits)
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := sealed.Sealed(line)
		want, canon, refErr := ref.Unsealed(nil, line)
		c := canonical.Canonicalizer{MaxDepth: canonical.DefaultMaxDepth + 1}
		canonLine, canonErr := c.Append(nil, line)
		switch {
		case canonErr != nil:
			if errcode.CodeOf(err) != errcode.CodeOf(canonErr) {
				t.Fatalf("Sealed error %v, want %v", err, canonErr)
			}
		case !bytes.Equal(canonLine, line):
			if !errors.Is(err, errcode.InputNotCanonical) {
				t.Fatalf("Sealed(%s) = %v, want input.not_canonical", line, err)
			}
		case refErr != nil:
			if err == nil || errcode.CodeOf(err) != errcode.CodeOf(refErr) {
				t.Fatalf("Sealed error %v, want %v", err, refErr)
			}
		case !bytes.Equal(canon, line):
			t.Fatal("canonical forms differ")
		case want.Kind() != KindUnsealed && !bytes.Equal(want.AppendJCS(nil), line):
			if !errors.Is(err, errcode.InputNotCanonical) {
				t.Fatalf("Sealed(%s) = %v, want input.not_canonical", line, err)
			}
		case err != nil:
			t.Fatalf("Sealed(%s) = %v, want the record", line, err)
		case !bytes.Equal(rec.AppendJCS(nil), want.AppendJCS(nil)):
			t.Fatalf("Sealed decodes another record")
		}
	})
}

func TestLimitsWithDefaults(t *testing.T) {
	d := DefaultLimits
	for _, tc := range []struct {
		name     string
		in, want Limits
	}{
		{"zero", Limits{}, d},
		{"negative", Limits{Line: -1, Payload: -5, Attachment: -1, AttachmentRefs: -1}, d},
		{"set kept", Limits{Line: 10, Payload: 20, Attachment: 30, AttachmentRefs: 40}, Limits{Line: 10, Payload: 20, Attachment: 30, AttachmentRefs: 40}},
		{"mixed", Limits{Payload: 7}, Limits{Line: d.Line, Payload: 7, Attachment: d.Attachment, AttachmentRefs: d.AttachmentRefs}},
	} {
		if got := tc.in.WithDefaults(); got != tc.want {
			t.Errorf("%s: %+v.WithDefaults() = %+v, want %+v", tc.name, tc.in, got, tc.want)
		}
	}
}
