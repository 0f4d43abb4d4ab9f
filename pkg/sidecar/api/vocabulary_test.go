package api_test

import (
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sidecar/api"
)

// TestVocabularyRoutes: the route table uses exactly the vocabulary's
// operation labels, one route each, in the vocabulary's order, and its
// mutating routes are SIDECAR.md §4's: segments.open, segments.seal,
// envelopes.*.
func TestVocabularyRoutes(t *testing.T) {
	v := api.Vocabulary()
	var ops, mutating []string
	for _, rt := range api.RouteTable() {
		ops = append(ops, rt.Operation)
		if rt.Mutating {
			mutating = append(mutating, rt.Operation)
		}
	}
	if !slices.Equal(ops, v.Operations) {
		t.Errorf("route labels %v\nvocabulary %v", ops, v.Operations)
	}
	var want []string
	for _, op := range v.Operations {
		if op == api.OpSegmentsOpen || op == api.OpSegmentsSeal || strings.HasPrefix(op, "envelopes.") {
			want = append(want, op)
		}
	}
	if !slices.Equal(mutating, want) {
		t.Errorf("mutating routes %v, want %v", mutating, want)
	}
	for _, c := range v.EnterpriseCodes {
		if info, ok := errcode.Lookup(c); !ok || !strings.HasPrefix(string(c), "enterprise.") || info.HTTP < 400 {
			t.Errorf("enterprise code %s: %+v", c, info)
		}
	}
	for _, info := range errcode.Registry {
		if strings.HasPrefix(string(info.Code), "enterprise.") && !slices.Contains(v.EnterpriseCodes, info.Code) {
			t.Errorf("the vocabulary lacks the enterprise code %s", info.Code)
		}
	}
}

// TestVocabularyOneHome: no file of the sidecar but vocabulary.go spells a
// name of the vocabulary (headers case-insensitively, as HTTP compares
// them), so that the router, the middleware and the enterprise bridge can
// only use the constants. The short words (phases, outcomes, decisions,
// authentication methods), which are common English elsewhere, are held
// to this in the enterprise bridge, which sends them.
func TestVocabularyOneHome(t *testing.T) {
	v := api.Vocabulary()
	names := map[string]string{} // lowercased name → kind
	for _, h := range v.Headers {
		names[strings.ToLower(h)] = "header"
	}
	for _, kind := range []struct {
		kind string
		vals []string
	}{
		{"operation label", v.Operations}, {"readiness reason", v.Reasons}, {"control-plane path", v.ControlPlane},
		{"media type", []string{api.MediaJSON, api.MediaNDJSON, api.MediaZstd, api.MediaProblem, api.MediaMetrics}},
	} {
		for _, s := range kind.vals {
			names[s] = kind.kind
		}
	}
	words := map[string]string{v.HeaderTrue: "header value"}
	for _, kind := range []struct {
		kind string
		vals []string
	}{{"phase", v.Phases}, {"outcome", v.Outcomes}, {"decision", v.Decisions}, {"authentication method", v.AuthnMethods}} {
		for _, s := range kind.vals {
			words[s] = kind.kind
		}
	}
	roots := []string{"..", "../../../cmd/arxi-sidecar"}
	files, bridges := 0, 0
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			if filepath.Base(path) == "vocabulary.go" && filepath.Base(filepath.Dir(path)) == "api" {
				return nil
			}
			files++
			abs, _ := filepath.Abs(path)
			bridge := filepath.Base(filepath.Dir(abs)) == "enterprise"
			if bridge {
				bridges++
			}
			fset := gotoken.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			tags := map[*ast.BasicLit]bool{}
			ast.Inspect(f, func(n ast.Node) bool {
				if fl, ok := n.(*ast.Field); ok && fl.Tag != nil {
					tags[fl.Tag] = true
				}
				return true
			})
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != gotoken.STRING || tags[lit] {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					return true
				}
				if kind, ok := names[strings.ToLower(s)]; ok && (kind == "header" || names[s] != "") {
					t.Errorf("%s: the %s %q is spelled here; use the constant of pkg/sidecar/api/vocabulary.go", fset.Position(lit.Pos()), kind, s)
				}
				if kind, ok := words[s]; ok && bridge {
					t.Errorf("%s: the %s %q is spelled here; use the constant of pkg/sidecar/api/vocabulary.go", fset.Position(lit.Pos()), kind, s)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 10 || bridges == 0 {
		t.Fatalf("only %d files scanned, %d of the bridge", files, bridges)
	}
}
