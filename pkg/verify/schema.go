package verify

import (
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/schema"
)

// Warnings lists the warning codes of SPEC §10 a verdict can carry.
var Warnings = []string{WarnSignatureSkipped, WarnUntrustedSignature, WarnOmittedParent, WarnUnsealedSegment, WarnPhasesSkipped, WarnBreakGlassRotation}

// VerdictSchema is the verdict's shape (SPEC §10), made from the struct
// AppendJCS encodes.
var VerdictSchema = schema.Struct[jsonVerdict](map[string]*schema.Schema{
	"bundle_id":       schema.UUID().OrNull().Doc("the manifest's bundle_id; null for a bare sealed stream"),
	"manifest_sha256": schema.Digest().OrNull().Doc("SHA-256 of the manifest line without its newline; null for a bare sealed stream"),
	"record":          schema.Const("verdict"),
	"status":          schema.Enum(Valid, Invalid),
	"verdict_version": schema.Const(VerdictVersion),
	"phases":          schema.List(phaseSchema, NumPhases, NumPhases).Doc("the seven phases in order"),
	"warnings[].code": schema.Enum(Warnings...),
}).Named("verdict", "Verdict", "The result of verifying a bundle or sealed stream (SPEC §10): no times, byte-reproducible.")

var phaseSchema = schema.Struct[jsonPhase](map[string]*schema.Schema{
	"name":             schema.Enum(phaseNames[1:]...),
	"phase":            schema.Int(1, NumPhases),
	"status":           schema.Enum(Pass, Fail, Skipped),
	"failures":         schema.List(failureSchema, 0, MaxFailures).Doc("the first 100 failures, in input order"),
	"failures_omitted": schema.Int(1, schema.MaxSafeInteger).Doc("failures beyond the first 100"),
}).Named("verdict_phase", "Verdict phase", "The outcome of one verification phase (SPEC §10).")

var failureSchema = schema.Struct[jsonFailure](map[string]*schema.Schema{
	"code":       schema.Enum(errcode.Codes()...),
	"segment_id": schema.UUID().OrNull(),
	"sequence":   schema.Int(1, schema.MaxSafeInteger).OrNull(),
}).Named("verdict_failure", "Verdict failure", "One bad record: its segment and sequence (null where not applicable) and what is wrong.")
