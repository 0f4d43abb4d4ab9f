package errcode

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/errors.md from the registry")

// TestRegistryComplete parses this package's source and checks that every
// Code constant is registered exactly once, in code order, with a valid
// exit status and a description.
func TestRegistryComplete(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "errcode.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []Code
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || vs.Type == nil || fmt.Sprint(vs.Type) != "Code" {
			return true
		}
		for _, v := range vs.Values {
			s, _ := strconv.Unquote(v.(*ast.BasicLit).Value)
			declared = append(declared, Code(s))
		}
		return true
	})
	var registered []Code
	for _, info := range Registry {
		registered = append(registered, info.Code)
		if info.Exit < ExitInvalid || info.Exit > ExitIO || info.Description == "" {
			t.Errorf("%s: exit %d, description %q", info.Code, info.Exit, info.Description)
		}
		// A problem response is always an error: 4xx or 5xx.
		if info.HTTP < 400 || info.HTTP > 599 || info.Code.HTTPStatus() != info.HTTP {
			t.Errorf("%s: HTTP status %d", info.Code, info.HTTP)
		}
	}
	if !slices.IsSorted(registered) {
		t.Errorf("Registry is not sorted by code")
	}
	slices.Sort(declared)
	if !slices.Equal(declared, registered) {
		t.Errorf("declared codes %v\nregistered %v", declared, registered)
	}
}

func TestError(t *testing.T) {
	e := &Error{Code: InputUnknownField, Msg: "unknown field", Line: 3, Field: "x", Path: "in.ndjson"}
	if got, want := e.Error(), `in.ndjson: line 3: input.unknown_field: field "x": unknown field`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("seal: %w", e)
	if !errors.Is(wrapped, InputUnknownField) || errors.Is(wrapped, InputMissingField) {
		t.Errorf("errors.Is does not match codes")
	}
	if ExitStatus(wrapped) != ExitRejected || ExitStatus(nil) != ExitOK || ExitStatus(errors.New("x")) != ExitIO {
		t.Errorf("exit statuses wrong")
	}
	if ExitStatus(StoreLocked) != ExitIO || CodeOf(StoreLocked) != StoreLocked {
		t.Errorf("a bare code is not its own error")
	}
	seg := &Error{Code: ChainHashMismatch, Segment: "s", Sequence: 7, Msg: "m"}
	if got := seg.Error(); got != "chain.hash_mismatch: segment s sequence 7: m" {
		t.Errorf("Error() = %q", got)
	}
	in := InField(InField(New(InputFieldInvalid, "bad"), "hash"), "attachments[2]")
	if e, _ := As(in); e.Field != "attachments[2].hash" {
		t.Errorf("InField path = %q", e.Field)
	}
	if e, _ := As(AtLine(AtLine(New(InputTooDeep, "x"), 4), 9)); e.Line != 4 {
		t.Errorf("AtLine overwrote an existing line")
	}
	if e, _ := As(AtLine(errors.New("eof"), 2)); e.Code != IOFailed || e.Line != 2 {
		t.Errorf("AtLine on a plain error = %v", e)
	}
}

// TestAnnotations: locating an error wraps it and leaves it as it was; the
// locations show through As, Error, Is and Unwrap, the innermost of each
// kind winning.
func TestAnnotations(t *testing.T) {
	inner := &Error{Code: InputFieldInvalid, Field: "hash", Msg: "bad"}
	wrapped := fmt.Errorf("decode: %w", inner)
	err := WithHint(WithPath(WithLocation(AtLine(InField(wrapped, "attachments[0]"), 7), "s", 3), "in.ndjson"), "fix it")
	err = WithPath(AtLine(err, 9), "other")
	if *inner != (Error{Code: InputFieldInvalid, Field: "hash", Msg: "bad"}) {
		t.Fatalf("annotating changed the error: %+v", inner)
	}
	if want := `in.ndjson: line 7: input.field_invalid: segment s sequence 3: field "attachments[0].hash": bad`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	e, ok := As(err)
	if !ok || e.Hint != "fix it" || e.Line != 7 || e.Path != "in.ndjson" || e == inner {
		t.Errorf("As = %+v", e)
	}
	if !errors.Is(err, InputFieldInvalid) || CodeOf(err) != InputFieldInvalid || ExitStatus(err) != ExitRejected {
		t.Error("the code does not show through")
	}
	var target *Error
	if !errors.As(err, &target) || target != inner {
		t.Error("errors.As does not reach the annotated error")
	}
	if e, _ := As(WithHint(New(SegmentNoneOpen, "x"), "")); e.Hint != "" {
		t.Error("an empty hint")
	}
	if WithPath(errors.New("plain"), "p").Error() != "plain" || InField(nil, "f") != nil {
		t.Error("annotating an error without an *Error")
	}
}

func errorsDoc() []byte {
	var b bytes.Buffer
	b.WriteString("# Error codes\n\n")
	b.WriteString("Generated from `pkg/errcode` by `go test ./pkg/errcode -update`; a test fails when\n")
	b.WriteString("this file and the registry drift apart. Codes are stable (SPEC §12): scripts may\n")
	b.WriteString("match on them. CLI errors are printed as `arxi-NAME: error: [path: ][line N: ]CODE: message`\n")
	b.WriteString("or, with `--error-format json`, as one JSON object per error. The sidecar answers\n")
	b.WriteString("with an RFC 9457 problem whose `type` is `urn:arxi:error:CODE` and whose status is the\n")
	b.WriteString("code's HTTP status below (see docs/sidecar.md).\n\n")
	b.WriteString("| exit | meaning |\n|---|---|\n")
	for _, r := range [][2]string{{"0", "success (verify: valid)"}, {"1", "evidence invalid, or an integrity violation found"},
		{"2", "usage or configuration error"}, {"3", "rejected input (malformed, oversized, out of bounds)"}, {"4", "storage or I/O failure"}} {
		fmt.Fprintf(&b, "| %s | %s |\n", r[0], r[1])
	}
	b.WriteString("\n| code | exit | HTTP | meaning |\n|---|---|---|---|\n")
	for _, info := range Registry {
		fmt.Fprintf(&b, "| `%s` | %d | %d | %s |\n", info.Code, info.Exit, info.HTTP, strings.ReplaceAll(info.Description, "|", "\\|"))
	}
	return b.Bytes()
}

func TestErrorsDoc(t *testing.T) {
	const path = "../../docs/errors.md"
	want := errorsDoc()
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/errors.md is out of date; run go test ./pkg/errcode -update")
	}
}
