package dg

import (
	"regexp"

	"arxi.dev/arxi/pkg/redact"
)

// Default bounds (DG.md §4).
const (
	DefaultMaxString = redact.DefaultMaxString
	DefaultMaxRecord = redact.DefaultMaxRecord
	// MaxMaxRecord is the largest MaxRecord a Policy accepts.
	MaxMaxRecord = redact.MaxMaxRecord
)

// SourceNames are the prefixes a redaction path may carry to apply to one
// source only ("triggers:$.event.source_id").
var SourceNames = []string{"manifest", "triggers", "gate_evals", "decisions", "packets", "submissions",
	"tool_calls", "verifier_report", "mcp.request", "mcp.response"}

// defaultPaths are redacted unless PolicyConfig.DisableDefaults: the
// payloads DG carries for its callers, evidence values and references, and
// error details (DG.md §4), plus MCP tool arguments and results (§5).
var defaultPaths = []string{
	"triggers:$.event.payload",
	"packets:$.payload",
	"submissions:$.payload",
	"gate_evals:$.evidence[*].result.value",
	"$..evidence_ref.uri",
	"$..content_ref.uri",
	"$..error.details",
	"mcp.request:$.params.arguments",
	"mcp.response:$.response.result.content",
	"mcp.response:$.response.error.data",
}

// sensitiveKey matches object keys whose values are redacted at any depth.
var sensitiveKey = regexp.MustCompile(`(?i)(authorization|token|secret|password|api[_-]?key|cookie|credential)`)

// PolicyConfig configures a Policy. The zero value is the default policy.
type PolicyConfig struct {
	// DisableDefaults turns off the default redactions: the default paths
	// and sensitive key names. Paths and the bounds still apply.
	DisableDefaults bool
	// Paths are more values to redact, as "[SOURCE:]$PATH": $ is the
	// record, .name or ["name"] a member, [N] an element, .* or [*] any
	// child, ..name a descendant at any depth.
	Paths []string
	// MaxString is the longest string value kept, in bytes; 0 means
	// DefaultMaxString.
	MaxString int
	// MaxRecord is the longest record kept, in bytes of its JCS form after
	// redaction; 0 means DefaultMaxRecord.
	MaxRecord int
}

// Policy decides what of a record is kept (DG.md §4), with the markers and
// redactions lists of pkg/redact.
type Policy = redact.Policy

// DefaultPolicy returns the default policy.
func DefaultPolicy() *Policy {
	p, err := NewPolicy(PolicyConfig{})
	if err != nil {
		panic(err) // the default paths are constants
	}
	return p
}

// NewPolicy validates cfg and returns its Policy; errors are config.invalid.
func NewPolicy(cfg PolicyConfig) (*Policy, error) {
	return redact.New(redact.Config{
		Defaults:        defaultPaths,
		Sources:         SourceNames,
		Sensitive:       sensitiveKey,
		DisableDefaults: cfg.DisableDefaults,
		Paths:           cfg.Paths,
		Syntax:          redact.JSONPath,
		MaxString:       cfg.MaxString,
		MaxRecord:       cfg.MaxRecord,
	})
}
