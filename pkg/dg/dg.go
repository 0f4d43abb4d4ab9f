// Package dg maps Decision Gate runpacks and MCP tool-call transcripts to
// unsealed Arxi envelopes (SPEC §14, DG.md).
//
// Decision Gate (DG) exports each run of a scenario as a runpack: a
// directory of JCS JSON artifacts (triggers, gate evaluations, decisions,
// disclosed packets, submissions, tool calls) indexed by manifest.json,
// which lists every file's SHA-256 and a root hash over that list. This
// package reads a runpack without trusting it, checks its integrity the way
// DG's own verifier does and more, and derives the envelopes that record it.
//
// # Reading and checking
//
// Read opens the runpack through an os.Root, so no path in the manifest can
// reach outside the runpack directory, even through a symlink. It reads
// every listed file (at most MaxFileSize bytes each), then runs the checks
// of DG.md §2 and collects every failure as a Check rather than stopping at
// the first: path safety, raw-byte file hashes, the root hash, artifact
// hashes against file hashes, the scenario spec hash, one decision per
// trigger, required artifacts present, unlisted files in artifacts/, and
// that every gate evaluation names a recorded trigger. Decoding is strict:
// identifiers decode as uint64, never float64; an unknown manifest version
// or Timestamp kind, or a fraction where DG writes an integer, is a
// dg.malformed error naming the file and the JSON path.
//
// # Mapping
//
// Runpack.Map writes one dg.runpack envelope for the manifest, then one
// envelope per record (triggers by seq, gate evaluations, decisions by seq,
// packets, submissions, tool calls, the verifier report). Everything is
// derived from the runpack and the Config: claimed_at from DG's timestamps
// (logical time counts milliseconds from Config.LogicalEpoch), envelope ids
// from the root hash, the source path and the record's index, so the same
// runpack always yields the same envelopes, byte for byte. Each payload
// carries the record after redaction and bounds (see Policy) and the
// SHA-256 of the original record's JCS form, so whoever holds the runpack
// can prove which record a redacted envelope came from.
//
// With Mode Strict any failed check makes Map return an *IntegrityError
// before anything is emitted. With Mode Anomaly the first envelope is a
// dg.runpack.integrity_anomaly listing every failed check, and whatever can
// still be decoded is mapped.
//
// Transcripts (ReadTranscript) map DG's MCP client transcripts, a JSON
// array of {sequence, method, request, response, error}, to mcp.request and
// mcp.response envelope pairs.
package dg

import (
	"arxi.dev/arxi/pkg/adapter"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// MappingVersion names the mapping contract this package implements. It is
// written into every payload; a consumer that relies on the shape of the
// payloads pins it (arxi-dg --mapping-version).
const MappingVersion = "arxi-dg/1"

// AdapterID is the adapter_id of every envelope.
const AdapterID = "decision-gate"

// DefaultActor is the actor_id when Config.Actor is not set.
const DefaultActor = "decision-gate"

// DefaultTranscriptEnvironment is the environment_id of transcript
// envelopes when Config.Environment is not set.
const DefaultTranscriptEnvironment = "mcp-transcript"

// MaxFileSize is the size limit of each runpack or transcript file
// (SPEC §16).
const MaxFileSize = 8 << 20

// maxDepth bounds the nesting of DG files. An envelope line may nest 65
// levels (SPEC §3 plus the record wrapper); a record sits at most one level
// deeper in its payload than in its file, and a redaction marker adds one
// more, so 62 keeps every line Map writes within the limit.
const maxDepth = 62

// Mode selects what an integrity failure does: Strict fails the whole
// runpack on any failed check (nothing is emitted and Map returns an
// *IntegrityError listing every failure); Anomaly records the failures in
// a dg.runpack.integrity_anomaly envelope, then maps what can still be
// decoded.
type Mode = adapter.Mode

// The modes.
const (
	Strict  = adapter.Strict
	Anomaly = adapter.Anomaly
)

// ParseMode parses "strict" or "anomaly".
func ParseMode(s string) (Mode, error) { return adapter.ParseMode(s, "integrity mode") }

// Config holds what a mapping takes besides its input. The zero value is
// the default mapping: strict, logical time from the Unix epoch, actor
// DefaultActor, the default environment, the default redaction Policy, no
// artifact attachments.
type Config struct {
	Mode Mode
	// LogicalEpoch is the instant DG's logical time 0 maps to; logical
	// time n maps to LogicalEpoch plus n milliseconds. The zero Timestamp
	// is 1970-01-01T00:00:00Z.
	LogicalEpoch scalar.Timestamp
	// Actor is the actor_id; zero means DefaultActor.
	Actor scalar.Label
	// Environment is the environment_id; zero means
	// "tenant-<tenant_id>/namespace-<namespace_id>" for a runpack and
	// DefaultTranscriptEnvironment for a transcript.
	Environment scalar.Label
	// AttachArtifacts attaches every runpack file verbatim to the first
	// envelope mapped from it (the dg.runpack envelope for files without
	// envelopes of their own), so DG's root hash can be recomputed from the
	// evidence alone.
	AttachArtifacts bool
	// Policy is the redaction and bounds policy; nil means DefaultPolicy.
	Policy *Policy
}

func (c *Config) actor() scalar.Label {
	if c.Actor.IsZero() {
		return scalar.MustLabel(DefaultActor)
	}
	return c.Actor
}

func (c *Config) policy() *Policy {
	if c.Policy == nil {
		return DefaultPolicy()
	}
	return c.Policy
}

// Stats counts what a mapping emitted.
type Stats struct {
	Envelopes   int // unsealed envelopes
	Attachments int // attachment records (distinct blobs)
}

// Emit receives the records of a mapping in order: attachment records
// (*evidence.Attachment), each immediately before the first envelope that
// references it, and unsealed envelopes (*evidence.Unsealed). A record is
// not used after Emit returns, except that attachment data is shared with
// the Runpack.
type Emit func(evidence.Record) error

// Event types written by this package.
const (
	EventRunpack        = "dg.runpack"
	EventAnomaly        = "dg.runpack.integrity_anomaly"
	EventTrigger        = "dg.trigger"
	EventGateEval       = "dg.gate_eval"
	EventDecision       = "dg.decision"
	EventPacket         = "dg.packet"
	EventSubmission     = "dg.submission"
	EventToolCall       = "dg.tool_call"
	EventVerifierReport = "dg.verifier_report"
	EventMCPRequest     = "mcp.request"
	EventMCPResponse    = "mcp.response"
)
