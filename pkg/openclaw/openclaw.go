// Package openclaw maps captures of OpenClaw agent runs to unsealed Arxi
// envelopes (OPENCLAW.md).
//
// OpenClaw's gateway streams every agent run to its WebSocket clients as
// "agent" event frames — lifecycle, assistant, thinking and tool events,
// each numbered by a per-run seq — and keeps each session as a JSONL
// transcript of messages and tool results. This package reads a capture of
// either without trusting it, checks that no event is missing, repeated or
// out of order, pairs tool calls with their results, keeps secrets and
// bulk content out of the evidence, and derives the envelopes that record
// it.
//
// # Reading and checking
//
// Read makes the first of two passes: it reads the capture once, line by
// line (at most Config.MaxInput bytes, lines of at most MaxLine), decodes
// every line strictly (pkg/canonical and pkg/jsonobj: no duplicate keys,
// integers within ±2^53, valid UTF-8, bounded depth, every field of the
// right type; an error names the line and the JSON path), runs the
// sequence, tree and pairing checks, and spools the canonical form of each
// record to an unlinked temporary file. Memory does not grow with the
// input's bytes: Read holds one line at a time, plus a few words per run
// (its attempt, next seq and open tool calls) or, for a transcript, per
// entry id.
//
// # Mapping
//
// Capture.Map makes the second pass over the spool and writes the
// envelopes. It writes nothing when a check failed under Strict (or, with
// Config.RequirePaired, when a tool call or result is unpaired): it
// returns a *CheckError listing every problem. Under Anomaly an
// openclaw.sequence_anomaly envelope listing the findings comes first, and
// every event is mapped. Everything is derived from the capture and the
// Config — envelope ids from the run id, attempt, seq and occurrence (or,
// for a transcript, the session id and entry id), claimed_at from the
// events' own times — so the same capture always maps to the same bytes,
// and two recorders of one event give it one envelope id. Each payload
// carries the record after redaction and bounds (pkg/redact) and the
// SHA-256 of the original record's JCS form.
package openclaw

import (
	"regexp"

	"arxi.dev/arxi/pkg/adapter"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/redact"
	"arxi.dev/arxi/pkg/scalar"
)

// MappingVersion names the mapping contract this package implements. It is
// written into every payload.
const MappingVersion = "arxi-openclaw/1"

// AdapterID is the adapter_id of every envelope.
const AdapterID = "openclaw"

// DefaultActor is the actor_id when neither Config.Actor nor the event
// names an agent.
const DefaultActor = "openclaw"

// DefaultEnvironment is the environment_id when Config.Environment is not
// set.
const DefaultEnvironment = "openclaw"

// Limits.
const (
	// MaxLine is the longest input line, in bytes without its newline
	// (SPEC §16).
	MaxLine = 24 << 20
	// DefaultMaxInput is the default limit of a capture's size.
	DefaultMaxInput = 256 << 20
	// maxRecordDepth bounds the nesting of a record (an agent payload or a
	// transcript entry): its payload wraps it in one object and a marker
	// may add one level, so 62 keeps every payload within the 64 levels
	// of SPEC §3. A frame wraps the agent payload in one more.
	maxRecordDepth = 62
	// maxFindings bounds the findings (and pairing problems) kept; the
	// rest are counted.
	maxFindings = 10000
	// maxListedCalls bounds the calls one openclaw.tool.unpaired envelope
	// lists; the rest are counted.
	maxListedCalls = 1000
	// maxWarnings bounds the warnings kept; the rest are counted.
	maxWarnings = 100
)

// Format is the kind of capture.
type Format uint8

const (
	// Frames is a capture of gateway frames, one per line:
	// {"type":"event","event":"agent","payload":P,"seq":n,…}. Only agent
	// events are mapped; other frames are counted and skipped.
	Frames Format = iota
	// Payloads is a capture of bare agent payloads P, one per line.
	Payloads
	// Transcript is a session transcript (JSONL, versions 1 to 3).
	Transcript
)

// String returns the name written in payloads' source.format.
func (f Format) String() string {
	switch f {
	case Payloads:
		return "payloads"
	case Transcript:
		return "transcript"
	}
	return "frames"
}

// Mode selects what a failed sequence or tree check does: Strict rejects
// the capture (nothing is written and Map returns a *CheckError with one
// line per finding); Anomaly records the findings in an
// openclaw.sequence_anomaly envelope, written first, then maps every line.
type Mode = adapter.Mode

// The modes.
const (
	Strict  = adapter.Strict
	Anomaly = adapter.Anomaly
)

// ParseMode parses "strict" or "anomaly".
func ParseMode(s string) (Mode, error) { return adapter.ParseMode(s, "sequence policy") }

// Config holds what a mapping takes besides its input. The zero value maps
// a frame capture strictly with the default redaction policy.
type Config struct {
	Format   Format
	Sequence Mode
	// FrameSeq checks the frames' own seq (a connection counter): each
	// frame that carries one must carry the previous plus one; a hello-ok
	// response (a new connection) starts over.
	FrameSeq bool
	// RequirePaired rejects a capture with a tool call without its result
	// or a result without its call (openclaw.unpaired_tool).
	RequirePaired bool
	// Actor is the actor_id; zero means agent:<id> from the event's
	// agentId or its sessionKey agent:<id>:…, else DefaultActor.
	Actor scalar.Label
	// Environment is the environment_id; zero means DefaultEnvironment.
	Environment scalar.Label
	// SessionKey is the session_id of a transcript's envelopes (zero for
	// null).
	SessionKey scalar.Label
	// Policy is the redaction and bounds policy; nil means DefaultPolicy.
	Policy *redact.Policy
	// MaxInput is the size limit of the capture; 0 means DefaultMaxInput.
	MaxInput int64
	// TempDir is where the spool file is made; "" for the system default.
	TempDir string
	// Progress, when set, is called with the number of lines (Read) or
	// records (Map) done since its last call, every 1024.
	Progress func(n int)
}

func (c *Config) policy() *redact.Policy {
	if c.Policy == nil {
		return DefaultPolicy()
	}
	return c.Policy
}

func (c *Config) environment() scalar.Label {
	if c.Environment.IsZero() {
		return scalar.MustLabel(DefaultEnvironment)
	}
	return c.Environment
}

// Emit receives the envelopes of a mapping in order. An envelope is not
// used after Emit returns.
type Emit func(evidence.Record) error

// Event types written by this package.
const (
	EventAnomaly    = "openclaw.sequence_anomaly"
	EventGapNotice  = "openclaw.gap_notice"
	EventToolCall   = "openclaw.tool.call"
	EventToolUpdate = "openclaw.tool.update"
	EventToolResult = "openclaw.tool.result"
	EventTool       = "openclaw.tool"
	EventUnpaired   = "openclaw.tool.unpaired"
	EventStream     = "openclaw.stream"
	EventSession    = "openclaw.session"
	EventEntry      = "openclaw.entry"
)

// Redaction sources: a default path applies to agent payloads, to
// transcript entries or to the tool call blocks of transcript messages.
const (
	sourceAgent      = "agent"
	sourceTranscript = "transcript"
	sourceBlock      = "tool_call"
)

// defaultPaths are redacted unless PolicyConfig.DisableDefaults
// (OPENCLAW.md §6): what tools were given and returned and what the model
// and the user wrote, in agent payloads; in transcripts each content
// block's text, thinking, image data, arguments and partial JSON, and the
// details, command and output of messages, the data of custom entries and
// summaries.
var defaultPaths = func() []string {
	paths := []string{
		"agent:$.data.args",
		"agent:$.data.result",
		"agent:$.data.partialResult",
		"agent:$.data.text",
		"agent:$.data.delta",
		"agent:$.data.output",
		"transcript:$.message.details",
		"transcript:$.details",
		"transcript:$.message.command",
		"transcript:$.message.output",
		"transcript:$.data",
		"transcript:$.summary",
		"transcript:$.message.summary",
		"tool_call:$.arguments",
		"tool_call:$.partialJson",
	}
	for _, content := range []string{"$.message.content", "$.content"} {
		for _, k := range []string{"text", "thinking", "data", "arguments", "partialJson"} {
			paths = append(paths, "transcript:"+content+"[*]."+k)
		}
	}
	return paths
}()

// stringPaths are redacted when they hold a string: a message content
// given as one text rather than a list of blocks.
var stringPaths = []string{
	"transcript:$.message.content",
	"transcript:$.content",
}

// sensitiveKey matches object keys whose values are redacted at any depth.
var sensitiveKey = regexp.MustCompile(`(?i)(authorization|cookie|passw(or)?d|passphrase|secret|token|api[_-]?key|credentials?|private[_-]?key)$`)

// PolicyConfig configures a Policy. The zero value is the default policy.
type PolicyConfig struct {
	// DisableDefaults turns off the default redactions: the default paths
	// and sensitive key names. Paths and the bounds still apply.
	DisableDefaults bool
	// Paths are more values to redact, as RFC 6901 JSON pointers into the
	// record ("/data/meta/note"; "" is the whole record).
	Paths []string
	// MaxString is the longest string value kept, in bytes; 0 means
	// redact.DefaultMaxString.
	MaxString int
	// MaxRecord is the longest record kept, in bytes of its JCS form after
	// redaction; 0 means redact.DefaultMaxRecord.
	MaxRecord int
}

// NewPolicy validates cfg and returns its Policy; errors are config.invalid.
func NewPolicy(cfg PolicyConfig) (*redact.Policy, error) {
	return redact.New(redact.Config{
		Defaults:        defaultPaths,
		StringDefaults:  stringPaths,
		Sources:         []string{sourceAgent, sourceTranscript, sourceBlock},
		Sensitive:       sensitiveKey,
		DisableDefaults: cfg.DisableDefaults,
		Paths:           cfg.Paths,
		Syntax:          redact.Pointer,
		MaxString:       cfg.MaxString,
		MaxRecord:       cfg.MaxRecord,
	})
}

// DefaultPolicy returns the default policy.
func DefaultPolicy() *redact.Policy {
	p, err := NewPolicy(PolicyConfig{})
	if err != nil {
		panic(err) // the default paths are constants
	}
	return p
}
