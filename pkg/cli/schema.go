package cli

import (
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/schema"
)

// The levels of a diagnostic.
const (
	levelError   = "error"
	levelWarning = "warning"
	levelInfo    = "info"
)

// diagnostic is the object --error-format json writes on stderr for each
// error, warning and notice (SPEC §12); absent locations are null.
type diagnostic struct {
	Code     *string `json:"code"`
	Field    *string `json:"field"`
	Hint     *string `json:"hint"`
	Level    string  `json:"level"`
	Line     *int64  `json:"line"`
	Message  string  `json:"message"`
	Path     *string `json:"path"`
	Segment  *string `json:"segment_id"`
	Sequence *uint64 `json:"sequence"`
	Tool     string  `json:"tool"`
}

// DiagnosticSchema is a diagnostic's shape, from the struct jsonDiagnostic
// encodes.
var DiagnosticSchema = schema.Struct[diagnostic](map[string]*schema.Schema{
	"code":       schema.Enum(errcode.Codes()...).OrNull().Doc("the error's code (errors.json); null for a warning or notice"),
	"field":      schema.Str("", 1, 0).OrNull().Doc("the field or JSON path at fault"),
	"hint":       schema.Str("", 1, 0).OrNull().Doc("what to do about it, as the text form's hint line"),
	"level":      schema.Enum(levelError, levelWarning, levelInfo),
	"line":       schema.Int(1, schema.MaxSafeInteger).OrNull().Doc("the input line at fault"),
	"message":    schema.Str("", 1, 0),
	"path":       schema.Str("", 1, 0).OrNull().Doc("the file at fault"),
	"segment_id": schema.UUID().OrNull().Doc("the segment at fault"),
	"sequence":   schema.Int(1, schema.MaxSafeInteger).OrNull().Doc("the envelope's sequence in the segment"),
	"tool":       schema.Str(`^arxi-[a-z]+$`, 0, 0).Doc("the binary that writes it"),
}).Named("diagnostic", "Diagnostic", "One line on a binary's stderr with --error-format json (SPEC §12): an error, a warning or a notice, "+
	"canonical JSON, every key present.")
