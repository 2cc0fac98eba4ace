package testreq

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestNoDirectSkips keeps every skip in the tree going through testreq: a
// t.Skip anywhere else would pass silently under CI.
func TestNoDirectSkips(t *testing.T) {
	fset := token.NewFileSet()
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".cache" || path == filepath.Join(root, "internal", "testreq")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok && isDirectSkip(c) {
				found = append(found, fset.Position(c.Pos()).String())
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("direct skips outside internal/testreq (use testreq.Tool, Root, Capability, Skip or SkipAllowed, so CI fails instead):\n%s",
			strings.Join(found, "\n"))
	}
}

// isDirectSkip reports whether c is x.Skip, x.Skipf or x.SkipNow for an x
// other than the testreq package.
func isDirectSkip(c *ast.CallExpr) bool {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok || !slices.Contains([]string{"Skip", "Skipf", "SkipNow"}, sel.Sel.Name) {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return !ok || x.Name != "testreq"
}
