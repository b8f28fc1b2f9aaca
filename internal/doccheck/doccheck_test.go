package doccheck

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestDocComments walks every package of the module and reports, one line
// each with its position:
//
//   - a package without a package comment, or (outside package main) one
//     that does not start "Package <name>";
//   - an exported func, type, const or var, or an exported method of an
//     exported type, without a doc comment;
//   - a doc comment that does not start with the identifier's name,
//     optionally after "A", "An" or "The". "Deprecated:" alone is not a
//     doc comment: it must follow a sentence naming the identifier.
//
// In a parenthesised const or var block a comment on the block documents
// every spec in it (the style of grouped sentinels and enums); a spec's own
// comment, above or at the end of its line, also counts. Test files,
// generated files, testdata, hidden directories and nested modules are
// skipped.
func TestDocComments(t *testing.T) {
	root := moduleRoot(t)
	pkgs := parsePackages(t, root)
	if len(pkgs) == 0 {
		t.Fatalf("found no packages under %s", root)
	}
	var problems []problem
	for _, p := range pkgs {
		problems = append(problems, checkPackage(p)...)
	}
	sort.Slice(problems, func(i, j int) bool {
		a, b := problems[i].pos, problems[j].pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Line < b.Line
	})
	if len(problems) == 0 {
		return
	}
	var b strings.Builder
	for _, p := range problems {
		rel, err := filepath.Rel(root, p.pos.Filename)
		if err != nil {
			rel = p.pos.Filename
		}
		fmt.Fprintf(&b, "\n%s:%d: %s", filepath.ToSlash(rel), p.pos.Line, p.msg)
	}
	t.Errorf("%d doc comment problems in %d packages:%s", len(problems), len(pkgs), b.String())
}

// pkg is the non-test files of one package: one directory and one package
// clause.
type pkg struct {
	dir   string
	name  string
	files []*ast.File
	fset  *token.FileSet
}

type problem struct {
	pos token.Position
	msg string
}

// moduleRoot goes up from the test's directory to the nearest go.mod, so
// the test checks the whole module wherever the package sits in it.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		} else if !errors.Is(err, fs.ErrNotExist) {
			tb.Fatalf("stat go.mod in %s: %v", dir, err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// parsePackages parses the non-test Go files under root with comments,
// skipping what the go command skips (testdata, names starting with "." or
// "_", vendor, nested modules) and generated files.
func parsePackages(tb testing.TB, root string) []*pkg {
	tb.Helper()
	fset := token.NewFileSet()
	byKey := map[string]*pkg{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path == root {
				return nil
			}
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") ||
			strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) || buildIgnored(f) {
			return nil
		}
		dir := filepath.Dir(path)
		key := dir + "\x00" + f.Name.Name
		p := byKey[key]
		if p == nil {
			p = &pkg{dir: dir, name: f.Name.Name, fset: fset}
			byKey[key] = p
		}
		p.files = append(p.files, f)
		return nil
	})
	if err != nil {
		tb.Fatalf("parse module at %s: %v", root, err)
	}
	pkgs := make([]*pkg, 0, len(byKey))
	for _, p := range byKey {
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].dir < pkgs[j].dir })
	return pkgs
}

// buildIgnored reports whether the file is excluded from every build with
// "//go:build ignore", the convention for generators and scratch programs.
func buildIgnored(f *ast.File) bool {
	for _, cg := range f.Comments {
		if cg.Pos() >= f.Package {
			break
		}
		for _, c := range cg.List {
			if strings.TrimSpace(c.Text) == "//go:build ignore" {
				return true
			}
		}
	}
	return false
}

func checkPackage(p *pkg) []problem {
	var out []problem
	add := func(pos token.Pos, format string, args ...any) {
		out = append(out, problem{pos: p.fset.Position(pos), msg: fmt.Sprintf(format, args...)})
	}

	hasPkgDoc := false
	for _, f := range p.files {
		if f.Doc == nil {
			continue
		}
		hasPkgDoc = true
		text := f.Doc.Text()
		if p.name != "main" && !strings.HasPrefix(text, "Package "+p.name+" ") && !strings.HasPrefix(text, "Package "+p.name+"\n") {
			add(f.Doc.Pos(), "package comment of %s should start %q", p.name, "Package "+p.name)
		}
	}
	if !hasPkgDoc {
		sort.Slice(p.files, func(i, j int) bool {
			return p.fset.Position(p.files[i].Package).Filename < p.fset.Position(p.files[j].Package).Filename
		})
		add(p.files[0].Package, "package %s has no package comment", p.name)
	}

	for _, f := range p.files {
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				checkFunc(d, add)
			case *ast.GenDecl:
				checkGen(d, add)
			}
		}
	}
	return out
}

func checkFunc(d *ast.FuncDecl, add func(token.Pos, string, ...any)) {
	name := d.Name.Name
	if !ast.IsExported(name) {
		return
	}
	what := "func " + name
	if d.Recv != nil {
		recv := recvTypeName(d.Recv)
		if !ast.IsExported(recv) {
			return // not in the package's documented API
		}
		what = "method " + recv + "." + name
	}
	checkDoc(d.Name.Pos(), what, name, d.Doc, add)
}

// recvTypeName returns the base type name of a receiver: T for T, *T, T[K]
// and *T[K, V].
func recvTypeName(fl *ast.FieldList) string {
	if fl == nil || len(fl.List) == 0 {
		return ""
	}
	expr := fl.List[0].Type
	for {
		switch e := expr.(type) {
		case *ast.StarExpr:
			expr = e.X
		case *ast.ParenExpr:
			expr = e.X
		case *ast.IndexExpr:
			expr = e.X
		case *ast.IndexListExpr:
			expr = e.X
		case *ast.Ident:
			return e.Name
		default:
			return ""
		}
	}
}

func checkGen(d *ast.GenDecl, add func(token.Pos, string, ...any)) {
	grouped := d.Lparen.IsValid()
	for _, spec := range d.Specs {
		switch s := spec.(type) {
		case *ast.TypeSpec:
			if !ast.IsExported(s.Name.Name) {
				continue
			}
			doc := s.Doc
			if doc == nil && len(d.Specs) == 1 {
				doc = d.Doc
			}
			checkDoc(s.Name.Pos(), "type "+s.Name.Name, s.Name.Name, doc, add)
		case *ast.ValueSpec:
			var exported []string
			for _, n := range s.Names {
				if ast.IsExported(n.Name) {
					exported = append(exported, n.Name)
				}
			}
			if len(exported) == 0 {
				continue
			}
			kind := d.Tok.String()
			what := kind + " " + strings.Join(exported, ", ")
			switch {
			case s.Doc != nil:
				checkDoc(s.Names[0].Pos(), what, "", s.Doc, add, exported...)
			case grouped && (d.Doc != nil || s.Comment != nil):
				// Documented by the block's comment or its own line comment.
			case !grouped && d.Doc != nil:
				checkDoc(s.Names[0].Pos(), what, "", d.Doc, add, exported...)
			case grouped:
				add(s.Names[0].Pos(), "%s has no doc comment (or a comment on its block)", what)
			default:
				add(s.Names[0].Pos(), "%s has no doc comment", what)
			}
		}
	}
}

// checkDoc reports a missing doc comment, or one that does not start with
// name (or, when names are given instead, with any of them).
func checkDoc(pos token.Pos, what, name string, doc *ast.CommentGroup, add func(token.Pos, string, ...any), names ...string) {
	if name != "" {
		names = append(names, name)
	}
	if doc == nil || strings.TrimSpace(doc.Text()) == "" {
		add(pos, "%s has no doc comment", what)
		return
	}
	text := doc.Text()
	for _, n := range names {
		if startsWithName(text, n) {
			return
		}
	}
	first, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	if len(first) > 60 {
		first = first[:60] + "..."
	}
	add(pos, "doc comment of %s should start with %q, not %q", what, names[0], first)
}

// startsWithName reports whether text starts with name as a whole word,
// optionally after an article.
func startsWithName(text, name string) bool {
	text = strings.TrimLeft(text, " \t\n")
	for _, article := range []string{"A ", "An ", "The "} {
		if rest, ok := strings.CutPrefix(text, article); ok && wordPrefix(rest, name) {
			return true
		}
	}
	return wordPrefix(text, name)
}

func wordPrefix(text, name string) bool {
	rest, ok := strings.CutPrefix(text, name)
	if !ok {
		return false
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return rest == "" || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
}

// TestChecker runs the rules on a fixed source so a change to them that
// stops catching a case fails here rather than silently passing the module.
func TestChecker(t *testing.T) {
	const src = `package sample

type Good struct{}

// Good2 is documented.
type Good2 struct{}

// A Good3 may start with an article.
type Good3 int

// Deprecated: use Good2.
type OnlyDeprecated int

// Wrong names another type.
type Bad int

// Get is documented.
func (Good2) Get() {}

func (Good2) Undocumented() {}

func (unexported) Skipped() {}

// Generic is documented.
func (*Good3) Generic() {}

// Sentinels have a group comment.
var (
	ErrA = 1
	ErrB = 2
)

const (
	// KindX starts with its name.
	KindX = iota
	KindY // a line comment counts in a group
	KindZ
	// badly named
	KindW
)

// MaxN is a single const.
const MaxN = 3

var Loose = 4

// Getter is a prefix of the name, not the name.
func GetterFunc() {}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "sample.go", src, parser.ParseComments)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var got []string
	for _, p := range checkPackage(&pkg{name: "sample", files: []*ast.File{f}, fset: fset}) {
		got = append(got, fmt.Sprintf("%d: %s", p.pos.Line, p.msg))
	}
	want := []string{
		`1: package sample has no package comment`,
		`3: type Good has no doc comment`,
		`12: doc comment of type OnlyDeprecated should start with "OnlyDeprecated", not "Deprecated: use Good2."`,
		`15: doc comment of type Bad should start with "Bad", not "Wrong names another type."`,
		`20: method Good2.Undocumented has no doc comment`,
		`37: const KindZ has no doc comment (or a comment on its block)`,
		`39: doc comment of const KindW should start with "KindW", not "badly named"`,
		`45: var Loose has no doc comment`,
		`48: doc comment of func GetterFunc should start with "GetterFunc", not "Getter is a prefix of the name, not the name."`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
