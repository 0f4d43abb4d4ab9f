// Package errcode is Arxi's one registry of stable error codes (SPEC §12)
// and the typed error that carries them.
//
// A code is a dotted, lowercase string such as "input.malformed_json". Codes
// are part of the public contract: scripts match on them, the sidecar puts
// them in problem documents, and they never change meaning. Each code maps to
// one process exit status and one HTTP status (the status of the sidecar's
// problem response; CLIs ignore it).
//
// Code implements error, so the codes double as sentinels:
//
//	if errors.Is(err, errcode.StoreLocked) { … }
//
// An *Error carries a code, a human message and the location of the fault
// (line, field, file path, segment, sequence) plus an optional cause.
package errcode

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Code is a stable, dotted error code.
type Code string

// Error makes a Code usable as a sentinel with errors.Is.
func (c Code) Error() string { return string(c) }

// Exit reports the process exit status for the code (SPEC §12). Unknown
// codes map to ExitIO, the most conservative non-verdict status.
func (c Code) Exit() int {
	if info, ok := lookup[c]; ok {
		return info.Exit
	}
	return ExitIO
}

// Exit statuses (SPEC §12).
const (
	ExitOK       = 0 // success; verify: valid
	ExitInvalid  = 1 // evidence invalid, or an integrity violation was found
	ExitUsage    = 2 // usage or configuration error
	ExitRejected = 3 // rejected input: malformed, oversized, out of bounds
	ExitIO       = 4 // storage or I/O failure
)

// The registry. Keep it sorted by code; docs/errors.md is generated from it
// and a test fails when the two drift apart.
const (
	AdmissionSaturated      Code = "admission.saturated"
	AttachmentCorrupt       Code = "attachment.corrupt"
	AuthInvalidToken        Code = "auth.invalid_token"
	BundleDuplicateID       Code = "bundle.duplicate_envelope_id"
	BundleEmpty             Code = "bundle.empty"
	BundleLimitExceeded     Code = "bundle.limit_exceeded"
	BundleMalformed         Code = "bundle.malformed"
	BundleManifestMismatch  Code = "bundle.manifest_mismatch"
	BundleNotFound          Code = "bundle.not_found"
	ChainDiscontinuity      Code = "chain.discontinuity"
	ChainHashMismatch       Code = "chain.hash_mismatch"
	ConfigInvalid           Code = "config.invalid"
	DGIntegrity             Code = "dg.integrity"
	DGMalformed             Code = "dg.malformed"
	EnterpriseDenied        Code = "enterprise.denied"
	EnterpriseHookFailed    Code = "enterprise.hook_failed"
	EnterpriseIdentity      Code = "enterprise.identity_invalid"
	EnterpriseQuota         Code = "enterprise.quota_exhausted"
	EnterpriseUnavailable   Code = "enterprise.unavailable"
	EnterpriseWriterLease   Code = "enterprise.writer_lease_required"
	IdempotencyConflict     Code = "idempotency.conflict"
	IdempotencyInProgress   Code = "idempotency.in_progress"
	IdempotencyKeyInvalid   Code = "idempotency.key_invalid"
	InputAttachmentMiss     Code = "input.attachment_missing"
	InputFieldInvalid       Code = "input.field_invalid"
	InputMalformedJSON      Code = "input.malformed_json"
	InputMissingField       Code = "input.missing_field"
	InputNonUTCTime         Code = "input.non_utc_time"
	InputNotCanonical       Code = "input.not_canonical"
	InputNumberPrecision    Code = "input.number_precision"
	InputTooDeep            Code = "input.too_deep"
	InputTooLarge           Code = "input.too_large"
	InputUnexpectedRecord   Code = "input.unexpected_record"
	InputUnknownField       Code = "input.unknown_field"
	InputWrongKind          Code = "input.wrong_kind"
	InputZstd               Code = "input.zstd"
	Internal                Code = "internal"
	IOFailed                Code = "io.failed"
	KeyExists               Code = "key.exists"
	KeyInsecureFile         Code = "key.insecure_file"
	KeyMalformed            Code = "key.malformed"
	KeyNotCurrent           Code = "key.not_current"
	KeyPassphrase           Code = "key.passphrase"
	KeyPlainRefused         Code = "key.plain_refused"
	KeyRotationInvalid      Code = "key.rotation_invalid"
	KeyRotationUntrusted    Code = "key.rotation_untrusted"
	OpenClawSequenceGap     Code = "openclaw.sequence_gap"
	OpenClawTranscriptTree  Code = "openclaw.transcript_tree"
	OpenClawUnpairedTool    Code = "openclaw.unpaired_tool"
	OpenClawVersion         Code = "openclaw.unsupported_version"
	RequestHeaderInvalid    Code = "request.header_invalid"
	RequestHeadersTooLarge  Code = "request.headers_too_large"
	RequestMethodNotAllowed Code = "request.method_not_allowed"
	RequestNotAcceptable    Code = "request.not_acceptable"
	RequestNotFound         Code = "request.not_found"
	RequestTimeout          Code = "request.timeout"
	RequestTooLarge         Code = "request.too_large"
	RequestUnsupportedMedia Code = "request.unsupported_media_type"
	SegmentAlreadyOpen      Code = "segment.already_open"
	SegmentNoneOpen         Code = "segment.none_open"
	SegmentNotFound         Code = "segment.not_found"
	SegmentSealed           Code = "segment.sealed"
	ServiceUnavailable      Code = "service.unavailable"
	SignatureInvalid        Code = "signature.invalid"
	SignaturePolicy         Code = "signature.policy_unmet"
	SignatureSealUnsigned   Code = "signature.seal_unsigned"
	StoreCorrupt            Code = "store.corrupt"
	StoreDuplicate          Code = "store.duplicate"
	StoreIO                 Code = "store.io"
	StoreLocked             Code = "store.locked"
	StoreSchema             Code = "store.schema_unsupported"
	UsageInvalid            Code = "usage.invalid"
)

// Info describes one registered code.
type Info struct {
	Code Code
	Exit int
	// HTTP is the status of a problem response with this code (the
	// sidecar's RFC 9457 problem details); the CLIs ignore it.
	HTTP        int
	Description string
}

// Registry lists every code in code order.
var Registry = []Info{
	{AdmissionSaturated, ExitIO, 503, "the sidecar is at max_in_flight with a full queue_depth; retry after the Retry-After seconds"},
	{AttachmentCorrupt, ExitInvalid, 422, "an attachment blob does not hash to its hash (SPEC §4.2); verify phase 2"},
	{AuthInvalidToken, ExitUsage, 401, "the request has no bearer token, or not the sidecar's (RFC 6750)"},
	{BundleDuplicateID, ExitInvalid, 422, "two envelopes of a bundle or sealed stream have one envelope_id (SPEC §10, phase 3)"},
	{BundleEmpty, ExitRejected, 422, "nothing to export: the selector matches no envelope and names no segment, or the input holds no segment"},
	{BundleLimitExceeded, ExitRejected, 422, "a bundle or stream exceeds a bounded-work limit of SPEC §16; checked before the work starts"},
	{BundleMalformed, ExitRejected, 400, "a bundle's manifest or record order is not a bundle (SPEC §9.1)"},
	{BundleManifestMismatch, ExitInvalid, 422, "a bundle's manifest disagrees with its records: segments, counts, attachments, omitted parents, selector (SPEC §9.1)"},
	{BundleNotFound, ExitUsage, 404, "no sealed segment's canonical bundle has that bundle id"},
	{ChainDiscontinuity, ExitInvalid, 409, "a record does not continue the chain: wrong segment, sequence gap, genesis not linked to the previous sealed head"},
	{ChainHashMismatch, ExitInvalid, 422, "a content, genesis, chain or seal value does not match its recomputation"},
	{ConfigInvalid, ExitUsage, 500, "a configuration file or flag value is invalid; the message names the key"},
	{DGIntegrity, ExitInvalid, 422, "a Decision Gate runpack failed its integrity check (DG.md §2); every failed check is listed"},
	{DGMalformed, ExitRejected, 400, "a Decision Gate runpack file cannot be read or decoded; the message names the file and JSON path"},
	{EnterpriseDenied, ExitRejected, 403, "enterprise mode: the control plane denied the operation to this identity (SIDECAR.md §4)"},
	{EnterpriseHookFailed, ExitIO, 502, "enterprise mode: a hook could not be delivered to the control plane; after a successful write the problem's receipts name the durable evidence, and a retry with the same Idempotency-Key gets the stored answer"},
	{EnterpriseIdentity, ExitRejected, 400, "enterprise mode: an identity header (x-tenant-id, x-principal-id, x-authn-method, x-namespace-id) is missing, repeated or malformed; the problem's field names it"},
	{EnterpriseQuota, ExitRejected, 429, "enterprise mode: the control plane reports the identity's quota exhausted (remaining 0)"},
	{EnterpriseUnavailable, ExitIO, 503, "enterprise mode: the control plane did not answer with a decision (unreachable, slower than decision_timeout, or an answer that is not one); nothing was done"},
	{EnterpriseWriterLease, ExitRejected, 409, "enterprise mode with require_writer_lease: a mutating request lacks x-arxi-writer-lease: true"},
	{IdempotencyConflict, ExitRejected, 409, "the Idempotency-Key was used before for a different request (method, path or body)"},
	{IdempotencyInProgress, ExitRejected, 409, "a request with the same Idempotency-Key is still running"},
	{IdempotencyKeyInvalid, ExitRejected, 400, "an Idempotency-Key header is not 1-255 printable ASCII characters, or is given twice"},
	{InputAttachmentMiss, ExitRejected, 400, "an attachment reference names a blob that did not come earlier in the stream"},
	{InputFieldInvalid, ExitRejected, 400, "a field has the wrong type or a value outside its rules (SPEC §2)"},
	{InputMalformedJSON, ExitRejected, 400, "a line is not strict JSON: syntax, duplicate keys, invalid UTF-8, lone surrogates, non-finite numbers, blank lines"},
	{InputMissingField, ExitRejected, 400, "a required field is absent"},
	{InputNonUTCTime, ExitRejected, 400, "a timestamp carries an offset instead of Z"},
	{InputNotCanonical, ExitRejected, 400, "a sealed-stream or bundle line is not in its RFC 8785 canonical form"},
	{InputNumberPrecision, ExitRejected, 400, "an integer literal lies outside ±2^53 and would lose precision"},
	{InputTooDeep, ExitRejected, 400, "JSON nesting deeper than 64 levels"},
	{InputTooLarge, ExitRejected, 413, "a line, payload, attachment or reference list exceeds its size limit (SPEC §16)"},
	{InputUnexpectedRecord, ExitRejected, 400, "a record kind that is not allowed at this point of the stream grammar (SPEC §6)"},
	{InputUnknownField, ExitRejected, 400, "an object carries a key its record does not define"},
	{InputWrongKind, ExitRejected, 400, "the input is another kind of Arxi file than this tool reads (unsealed events, a sealed stream, a bundle, receipts, a verdict, a store); the hint names the tool that reads it"},
	{InputZstd, ExitRejected, 400, "zstd-compressed input is corrupt or truncated, or a frame needs more than 8 MiB of window memory"},
	{Internal, ExitIO, 500, "an internal invariant failed; please report it"},
	{IOFailed, ExitIO, 500, "reading or writing a file or stream failed"},
	{KeyExists, ExitUsage, 409, "keygen refuses to overwrite an existing file"},
	{KeyInsecureFile, ExitUsage, 500, "a key or passphrase file may be read by its group or others (SPEC §11); chmod 600 it"},
	{KeyMalformed, ExitUsage, 500, "a key file is not a valid PKCS#8 PEM Ed25519 key"},
	{KeyNotCurrent, ExitInvalid, 409, "the store has a current signing key (SPEC §11.1) and the envelope is not signed by it; arxi-seal --store and the sidecar refuse to start with another key (exit 2 there)"},
	{KeyPassphrase, ExitUsage, 500, "an encrypted key's passphrase is missing or wrong"},
	{KeyPlainRefused, ExitUsage, 500, "an unencrypted key was given without --insecure-plain-key"},
	{KeyRotationInvalid, ExitInvalid, 422, "a key lifecycle envelope does not follow the lineage (SPEC §11.1): epoch not one more, old key not the current one, a required signature missing or invalid, a rotation to the same key; arxi-append refuses it, verify phase 6 fails it"},
	{KeyRotationUntrusted, ExitInvalid, 422, "verify phase 6: a break-glass rotation introduces a key the trust root does not list, or a rotation is signed by no key trusted at that point (SPEC §11.1)"},
	{OpenClawSequenceGap, ExitInvalid, 422, "an OpenClaw capture's agent events do not read 1, 2, 3, … within a run attempt: a gap, a duplicate or an out-of-order seq (or, with --frame-seq, a frame seq gap); one line per finding (OPENCLAW.md §3)"},
	{OpenClawTranscriptTree, ExitInvalid, 422, "an OpenClaw session transcript repeats an entry id or names a parentId that is no earlier entry (OPENCLAW.md §3)"},
	{OpenClawUnpairedTool, ExitInvalid, 422, "with --require-paired: an OpenClaw tool call without its result, or a result without its call (OPENCLAW.md §4)"},
	{OpenClawVersion, ExitRejected, 400, "an OpenClaw session transcript's header has a version other than absent (1), 1, 2 or 3"},
	{RequestHeaderInvalid, ExitRejected, 400, "a request header has an invalid value (a correlation id that is not 1-128 printable ASCII, say); the message names it"},
	{RequestHeadersTooLarge, ExitRejected, 431, "the request's headers exceed max_header_bytes"},
	{RequestMethodNotAllowed, ExitRejected, 405, "the route does not take this method; the Allow header lists those it takes"},
	{RequestNotAcceptable, ExitRejected, 406, "the Accept header allows none of the route's response media types"},
	{RequestNotFound, ExitRejected, 404, "no route has this path"},
	{RequestTimeout, ExitRejected, 408, "the request was not completed within request_timeout (a slow body, a long wait)"},
	{RequestTooLarge, ExitRejected, 413, "the request body, declared or actual, exceeds max_body_bytes"},
	{RequestUnsupportedMedia, ExitRejected, 415, "the Content-Type is missing or is not one the route takes"},
	{SegmentAlreadyOpen, ExitInvalid, 409, "a segment is already open; a store holds at most one"},
	{SegmentNoneOpen, ExitUsage, 404, "no segment is open (pass --open to start one)"},
	{SegmentNotFound, ExitUsage, 404, "no segment has that id"},
	{SegmentSealed, ExitInvalid, 409, "the segment is sealed and takes no more records"},
	{ServiceUnavailable, ExitIO, 503, "the sidecar is starting, stopping or not ready (its store is unreachable); the problem's reasons say why"},
	{SignatureInvalid, ExitInvalid, 422, "a signature by a key of the trust root does not verify (SPEC §11)"},
	{SignaturePolicy, ExitInvalid, 422, "an envelope's or a seal's valid trusted signatures do not satisfy the trust root's policy (SPEC §11)"},
	{SignatureSealUnsigned, ExitInvalid, 422, "a seal is not signed, so it fails every trust policy (SPEC §10, §11.2)"},
	{StoreCorrupt, ExitInvalid, 500, "a row read back from the store fails to decode or to hash; the message names the row"},
	{StoreDuplicate, ExitInvalid, 409, "an envelope or segment id is already in the store"},
	{StoreIO, ExitIO, 503, "the store cannot be opened, read or written (missing directory, read-only file, disk full, not a store)"},
	{StoreLocked, ExitIO, 503, "another process holds the store's writer lock"},
	{StoreSchema, ExitIO, 500, "the store was written by a newer schema version"},
	{UsageInvalid, ExitUsage, 400, "bad command-line usage: unknown flag, missing argument, conflicting options"},
}

var lookup = func() map[Code]Info {
	m := make(map[Code]Info, len(Registry))
	for _, info := range Registry {
		m[info.Code] = info
	}
	return m
}()

// HTTPStatus reports the HTTP status of a problem response with code c.
// Unknown codes map to 500.
func (c Code) HTTPStatus() int {
	if info, ok := lookup[c]; ok {
		return info.HTTP
	}
	return 500
}

// Lookup returns the registry entry of c.
func Lookup(c Code) (Info, bool) { info, ok := lookup[c]; return info, ok }

// Known reports whether c is in the registry.
func Known(c Code) bool { _, ok := lookup[c]; return ok }

// Error is a typed Arxi error. Zero location fields are omitted from the
// message.
type Error struct {
	Code     Code
	Msg      string
	Line     int64  // 1-based input line, 0 if not applicable
	Field    string // JSON field or path inside the record
	Path     string // file path
	Segment  string // segment id
	Sequence uint64 // envelope sequence, 0 if not applicable
	Hint     string // what the user can do about it, may be empty
	Err      error  // cause, may be nil
}

// New returns an *Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with code and message whose cause is err.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Err: err}
}

// Error formats the error as "path: line N: code: field "f": message: cause".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.FormatInt(e.Line, 10))
		b.WriteString(": ")
	}
	b.WriteString(string(e.Code))
	b.WriteString(": ")
	if e.Segment != "" {
		b.WriteString("segment ")
		b.WriteString(e.Segment)
		if e.Sequence > 0 {
			b.WriteString(" sequence ")
			b.WriteString(strconv.FormatUint(e.Sequence, 10))
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString("field ")
		b.WriteString(strconv.Quote(e.Field))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches a Code sentinel.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// As returns err's *Error, if it has one, with the locations annotating
// it on the way (AtLine, InField, WithPath, WithLocation, WithHint)
// applied. The result must not be modified: annotate the error instead.
func As(err error) (*Error, bool) {
	var notes []*annotated
	for cur := err; cur != nil; {
		switch v := cur.(type) {
		case *annotated:
			notes = append(notes, v)
			cur = v.err
			continue
		case *Error:
			if len(notes) == 0 {
				return v, true
			}
			m := *v
			for i := len(notes) - 1; i >= 0; i-- { // innermost first
				notes[i].apply(&m)
			}
			return &m, true
		}
		next := errors.Unwrap(cur)
		if next == nil {
			var e *Error
			ok := errors.As(cur, &e) // a multiple wrapper: no annotations below it are seen
			return e, ok
		}
		cur = next
	}
	return nil, false
}

// CodeOf returns the code of err: its *Error's code, a bare Code, or
// Internal for anything else.
func CodeOf(err error) Code {
	if e, ok := As(err); ok {
		return e.Code
	}
	var c Code
	if errors.As(err, &c) {
		return c
	}
	return Internal
}

// ExitStatus maps err to a process exit status; nil is ExitOK.
func ExitStatus(err error) int {
	if err == nil {
		return ExitOK
	}
	return CodeOf(err).Exit()
}

// annotated adds locations to the error it wraps, which it leaves as it
// is: As merges them into a copy. Each location is the innermost one
// given: a field is a path built from the outside in, the others are set
// only where the error does not name one already.
type annotated struct {
	err      error
	line     int64
	field    string
	path     string
	segment  string
	sequence uint64
	hint     string
}

func (a *annotated) apply(e *Error) {
	switch {
	case a.field == "":
	case e.Field == "":
		e.Field = a.field
	case strings.HasPrefix(e.Field, "["):
		e.Field = a.field + e.Field
	default:
		e.Field = a.field + "." + e.Field
	}
	if e.Line == 0 {
		e.Line = a.line
	}
	if e.Path == "" {
		e.Path = a.path
	}
	if e.Segment == "" && a.segment != "" {
		e.Segment, e.Sequence = a.segment, a.sequence
	}
	if e.Hint == "" {
		e.Hint = a.hint
	}
}

// Error formats the annotated error as its *Error, located.
func (a *annotated) Error() string {
	if e, ok := As(a); ok {
		return e.Error()
	}
	return a.err.Error()
}

// Unwrap returns the annotated error.
func (a *annotated) Unwrap() error { return a.err }

// annotate wraps err with a, or returns err unchanged when err has no
// *Error to locate, or is nil.
func annotate(err error, a annotated) error {
	if _, ok := As(err); !ok {
		return err
	}
	a.err = err
	return &a
}

// AtLine locates err at an input line, unless it names one already.
// Errors without an *Error are wrapped as IOFailed.
func AtLine(err error, line int64) error {
	if err == nil {
		return nil
	}
	if _, ok := As(err); !ok {
		return &Error{Code: IOFailed, Msg: "read input", Line: line, Err: err}
	}
	return annotate(err, annotated{line: line})
}

// InField records that err happened inside field, building a path from the
// outside in: InField(InField(err, "hash"), "attachments[2]") names
// "attachments[2].hash". Errors without an *Error are returned unchanged.
func InField(err error, field string) error { return annotate(err, annotated{field: field}) }

// WithPath locates err in a file, unless it names one already.
func WithPath(err error, path string) error { return annotate(err, annotated{path: path}) }

// WithLocation locates err at an envelope, unless it names a segment
// already.
func WithLocation(err error, segment string, sequence uint64) error {
	return annotate(err, annotated{segment: segment, sequence: sequence})
}

// WithHint adds what the user can do about err, unless it says already.
func WithHint(err error, hint string) error { return annotate(err, annotated{hint: hint}) }

// Abbrev shortens s for an error message: at most max bytes, cut at the
// start of a character and marked with "…".
func Abbrev(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && s[i]&0xC0 == 0x80 { // not the first byte of a character
		i--
	}
	return s[:i] + "…"
}
