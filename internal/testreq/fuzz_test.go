package testreq

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestFuzzFindsEveryTarget: scripts/fuzz.sh (make fuzz, and CI's short
// pass) runs every fuzz target in the tree: what it lists is every
// func FuzzX(*testing.F) in a _test.go file, as go/parser reads them. And
// CI runs it.
func TestFuzzFindsEveryTarget(t *testing.T) {
	var want []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Fuzz") && isTestingF(fn) {
				want = append(want, filepath.Dir(path)+" "+fn.Name.Name)
			}
		}
		return nil
	})
	if len(want) == 0 {
		t.Fatal("no fuzz target in the tree")
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "fuzz.sh"), "--list")
	cmd.Env = append(os.Environ(), "GO="+filepath.Join(runtime.GOROOT(), "bin", "go"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/fuzz.sh --list: %v", err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, name, _ := strings.Cut(line, " ")
		got = append(got, filepath.Join(root, strings.TrimPrefix(pkg, "github.com/flashpipe/flashpipe"))+" "+name)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("scripts/fuzz.sh --list finds\n%s\nwant every fuzz target in the tree:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "\nmake fuzz FUZZTIME=") {
		t.Errorf(".ci/run does not run make fuzz")
	}
}

// isTestingF reports whether fn takes one *testing.F.
func isTestingF(fn *ast.FuncDecl) bool {
	ps := fn.Type.Params.List
	if len(ps) != 1 {
		return false
	}
	star, ok := ps[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "testing" && sel.Sel.Name == "F"
}
