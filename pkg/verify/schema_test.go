package verify_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/internal/schematest"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/verify"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var verdictSchema struct {
	once sync.Once
	s    *jsonschema.Schema
}

// validVerdict fails t unless v's JSON validates against VerdictSchema;
// the tamper matrix calls it on every verdict it makes.
func validVerdict(t *testing.T, v *verify.Verdict) {
	t.Helper()
	verdictSchema.once.Do(func() { verdictSchema.s = schematest.Compile(t, verify.VerdictSchema) })
	if err := schematest.Validate(verdictSchema.s, v.AppendJCS(nil)); err != nil {
		t.Errorf("the verdict does not validate: %v\n%s", err, v.AppendJCS(nil))
	}
}

// TestVerdictSchema: valid verdicts, with and without a trust root, and
// a stream's (no bundle id) validate.
func TestVerdictSchema(t *testing.T) {
	key := bundletest.Key(1)
	stream := baseStream(key)
	b := fixture.MustBuild(t, stream, baseSelector())
	root := &signing.TrustRoot{Keys: []signing.TrustedKey{key.TrustedKey()}, Policy: signing.Policy{Kind: signing.AnyTrustedKey}}
	for _, cfg := range []verify.Config{{}, {TrustRoot: root}} {
		validVerdict(t, run(t, b, cfg))
		validVerdict(t, run(t, stream, cfg))
	}
	validVerdict(t, run(t, baseStream(), verify.Config{TrustRoot: root}))
}

// TestWarningsListed: every Warn constant of the package is in Warnings,
// the verdict schema's enum.
func TestWarningsListed(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Warn") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
					v, _ := strconv.Unquote(lit.Value)
					if !slices.Contains(verify.Warnings, v) {
						t.Errorf("warning %s = %q is not in verify.Warnings", name.Name, v)
					}
				}
			}
			return true
		})
	}
}
