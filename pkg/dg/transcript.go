package dg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"sort"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/jsonobj"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/tidwall/gjson"
)

// TranscriptPath is the source path of transcript envelopes' payloads.
const TranscriptPath = "transcript"

// Transcript is a decoded MCP tool-call transcript: the JSON array DG's MCP
// clients record (system-tests helpers mcp_client.rs and stdio_client.rs),
// each entry {"sequence": u64, "method": JSON-RPC method, "request": the
// JSON-RPC request, "response": the JSON-RPC response {"result","error"},
// "error": the error message or null}.
type Transcript struct {
	// Path is the file as given.
	Path string
	// SHA256 is the SHA-256 of the file's raw bytes; envelope ids derive
	// from it.
	SHA256  scalar.Digest
	raw     []byte
	entries []*entry // by sequence
}

type entry struct {
	index   int
	seq     uint64
	method  string
	tool    string // request.params.name, "" when absent
	request string // JCS of the request
	reply   string // JCS of {"error","response"}
}

// Len returns the number of transcript entries.
func (t *Transcript) Len() int { return len(t.entries) }

// ReadTranscript reads and strictly decodes a transcript file of at most
// MaxFileSize bytes. Errors are io.failed, input.too_large or dg.malformed
// naming the file and JSON path.
func ReadTranscript(path string) (*Transcript, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "open transcript", Err: pathCause(err)}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "not a regular file"}
	}
	raw, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "read transcript", Err: err}
	}
	if len(raw) > MaxFileSize {
		return nil, &errcode.Error{Code: errcode.InputTooLarge, Path: path, Msg: "transcript exceeds " + strconv.Itoa(MaxFileSize) + " bytes"}
	}
	return decodeTranscript(path, raw)
}

func decodeTranscript(path string, raw []byte) (*Transcript, error) {
	d := newDecoder(path)
	var c canonical.Canonicalizer
	canon, err := d.parse(&c, raw)
	if err != nil {
		return nil, err
	}
	t := &Transcript{Path: path, SHA256: sha256.Sum256(raw), raw: raw}
	list, err := d.st.List(jsonobj.Value{Raw: string(raw)})
	if err != nil {
		return nil, err
	}
	relems := list.Values()
	celems := relems
	if !bytes.Equal(canon, raw) {
		clist, _ := d.st.List(jsonobj.Value{Raw: string(canon)})
		celems = clist.Values()
	}
	seen := map[uint64]int{}
	for i, v := range relems {
		o, err := list.Object(i, v)
		if err != nil {
			return nil, err
		}
		if err := o.Only("sequence", "method", "request", "response", "error"); err != nil {
			return nil, err
		}
		e := &entry{index: i}
		if e.seq, err = o.Uint("sequence"); err != nil {
			return nil, err
		}
		if j, ok := seen[e.seq]; ok {
			return nil, o.Errorf("sequence", "sequence %d is also the sequence of $[%d]", e.seq, j)
		}
		seen[e.seq] = i
		if e.method, err = o.String("method"); err != nil {
			return nil, err
		}
		for _, k := range []string{"request", "response", "error"} {
			if !o.Has(k) {
				return nil, o.Errorf(k, "missing")
			}
		}
		if _, _, err := o.OptString("error"); err != nil {
			return nil, err
		}
		ce := gjson.Parse(celems[i].Raw)
		e.request = ce.Get("request").Raw
		if n := ce.Get("request.params.name"); n.Type == gjson.String {
			e.tool = n.Str
		}
		e.reply = `{"error":` + ce.Get("error").Raw + `,"response":` + ce.Get("response").Raw + `}`
		t.entries = append(t.entries, e)
	}
	sort.Slice(t.entries, func(a, b int) bool { return t.entries[a].seq < t.entries[b].seq })
	return t, nil
}

// Map writes an mcp.request and an mcp.response envelope per entry, in
// sequence order (DG.md §5). claimed_at is Config.LogicalEpoch plus the
// sequence in milliseconds; envelope ids derive from the transcript's
// SHA-256, the event type and the sequence (see EnvelopeID); trace_id is
// the transcript's SHA-256 in hex. Tool arguments and results are redacted
// by the default Policy. Config.Mode does not apply: a transcript carries
// no integrity data of its own.
func (t *Transcript) Map(cfg Config, emit Emit) (Stats, error) {
	var st Stats
	claimed := make([]scalar.Timestamp, len(t.entries))
	for i, e := range t.entries {
		var err error
		tm := dgTime{logical: true, value: int64(e.seq), file: t.Path, field: index("$", e.index) + ".sequence"}
		if claimed[i], err = tm.instant(cfg.LogicalEpoch); err != nil {
			return st, err
		}
	}
	env := cfg.Environment
	if env.IsZero() {
		env = scalar.MustLabel(DefaultTranscriptEnvironment)
	}
	sumHex := hex.EncodeToString(t.SHA256[:])
	base := evidence.Content{
		ActorID:       cfg.actor(),
		EnvironmentID: env,
		AdapterID:     scalar.MustToken(AdapterID),
		TraceID:       scalar.MustLabel(sumHex),
	}
	red := cfg.policy().Redactor()
	var buf []byte
	for i, e := range t.entries {
		for _, side := range [2]struct{ event, rec string }{{EventMCPRequest, e.request}, {EventMCPResponse, e.reply}} {
			rec, paths := red.Redact(side.event, side.rec)
			b := append(buf[:0], `{"mapping_version":"`+MappingVersion+`","method":`...)
			b = canonical.AppendString(b, e.method)
			b = append(b, `,"record":`...)
			b = append(b, rec...)
			b = appendRedactions(b, paths)
			b = append(b, `,"sequence":`...)
			b = strconv.AppendUint(b, e.seq, 10)
			b = append(b, `,"source":{"index":`...)
			b = strconv.AppendInt(b, int64(e.index), 10)
			b = append(b, `,"path":"`+TranscriptPath+`","record_sha256":"`...)
			sum := sha256.Sum256([]byte(side.rec))
			b = hex.AppendEncode(b, sum[:])
			b = append(b, `"},"tool":`...)
			if e.tool == "" {
				b = append(b, "null"...)
			} else {
				b = canonical.AppendString(b, e.tool)
			}
			b = append(b, `,"transcript":{"sha256":"`...)
			b = append(b, sumHex...)
			b = append(b, `"}}`...)
			buf = b

			c := base
			c.EventType = scalar.MustToken(side.event)
			c.ClaimedAt = claimed[i]
			c.EnvelopeID = EnvelopeID(claimed[i], t.SHA256, side.event, e.seq)
			c.Payload = string(b)
			u := &evidence.Unsealed{Content: c}
			if cfg.AttachArtifacts && st.Envelopes == 0 && len(t.raw) > 0 {
				a := evidence.NewAttachment(t.raw)
				if err := emit(a); err != nil {
					return st, err
				}
				st.Attachments++
				u.SetAttachments([]evidence.AttachmentRef{{ContentType: scalar.MustContentType("application/json"), Hash: a.Hash, Size: a.Size()}}, [][]byte{nil})
			}
			if err := emit(u); err != nil {
				return st, err
			}
			st.Envelopes++
		}
	}
	return st, nil
}
