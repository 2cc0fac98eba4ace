package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Loader reads station files. Keep it after loading: its parser holds the
// files' bytes, which diagnostics need to show source snippets.
type Loader struct {
	Parser   *hclparse.Parser
	Registry *Registry
	// Vars are values for variable blocks, as given on the command line
	// (--var name=value); they win over FLASHPIPE_VAR_<name> in Env. A
	// name no variable block declares is an error.
	Vars map[string]string
	// Env is the environment as os.Environ returns it ("KEY=value"); its
	// FLASHPIPE_VAR_<name> entries set variables, and one whose name no
	// variable block declares is an error. Nil means no environment.
	Env []string
	// SkipContent leaves out the checks that look at the content: that the
	// paths of sources and copy steps exist. For CI of repositories whose
	// content exists only on the stations (validate --skip-content).
	SkipContent bool
}

// NewLoader returns a loader for the given step kinds.
func NewLoader(reg *Registry) *Loader {
	return &Loader{Parser: hclparse.NewParser(), Registry: reg}
}

// ExpandPaths turns the command line's files and directories into the list
// of files to load: a directory contributes its *.hcl files, sorted.
func ExpandPaths(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(a, "*.hcl"))
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s: directory holds no *.hcl files", a)
		}
		sort.Strings(matches)
		files = append(files, matches...)
	}
	return files, nil
}

// LoadFiles parses and compiles the given files (see ExpandPaths) into one
// Config. The returned Config is nil when nothing could be parsed or a file
// has syntax errors (decoding a half-parsed file only adds follow-on
// errors); it must not be used when the diagnostics hold errors.
func (l *Loader) LoadFiles(paths []string) (*Config, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var files []*hcl.File
	var names []string
	h := sha256.New()
	for _, p := range paths {
		src, err := fsimage.ReadRegular(p) // a FIFO would block in open, /dev/zero read forever
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read configuration file",
				Detail:   fmt.Sprintf("Reading %s failed: %s.", p, err),
			})
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(p), len(src))
		h.Write(src)
		f, fd := l.parse(p, src)
		diags = append(diags, fd...)
		if f != nil {
			files = append(files, f)
			names = append(names, p)
		}
	}
	if len(files) == 0 || diags.HasErrors() {
		return nil, diags
	}
	cfg, more := l.decode(files, names)
	l.keepTemplates(cfg)
	cfg.Digest = hex.EncodeToString(h.Sum(nil))
	return cfg, append(diags, more...)
}

// LoadSource compiles one in-memory file, as tests, fuzzing and the
// original tool's flags do.
func (l *Loader) LoadSource(name string, src []byte) (*Config, hcl.Diagnostics) {
	f, diags := l.parse(name, src)
	if f == nil || diags.HasErrors() {
		return nil, diags
	}
	cfg, more := l.decode([]*hcl.File{f}, []string{name})
	l.keepTemplates(cfg)
	sum := sha256.Sum256(src)
	cfg.Digest = hex.EncodeToString(sum[:])
	return cfg, append(diags, more...)
}

func (l *Loader) parse(name string, src []byte) (*hcl.File, hcl.Diagnostics) {
	f, diags := l.Parser.ParseHCL(src, name)
	if !utf8.Valid(src) {
		// The parser reports the bad bytes and then whatever it made of
		// them (an unterminated string, a missing block): report the
		// first bad byte only. The parser keeps the file for snippets.
		return f, hcl.Diagnostics{badEncoding(name, src)}
	}
	if diags.HasErrors() {
		return f, diags
	}
	if len(bytes.TrimSpace(stripComments(src))) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty configuration file",
			Detail:   fmt.Sprintf("%s declares nothing. A station file holds at least one profile block, or station, source and variable blocks for other files.", name),
			Subject:  &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos},
		})
	}
	return f, diags
}

// badEncoding reports the first byte of src that is not UTF-8.
func badEncoding(name string, src []byte) *hcl.Diagnostic {
	pos := hcl.InitialPos
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n <= 1 {
			end := pos
			end.Column++
			end.Byte++
			return &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid character encoding",
				Detail:   fmt.Sprintf("Byte 0x%02x at line %d, column %d is not UTF-8. Station files must be UTF-8 encoded: save the file as UTF-8 in your editor (for example with iconv -f latin1 -t utf-8).", src[i], pos.Line, pos.Column),
				Subject:  &hcl.Range{Filename: name, Start: pos, End: end},
			}
		}
		if r == '\n' {
			pos.Line++
			pos.Column = 1
		} else {
			pos.Column++
		}
		pos.Byte += n
		i += n
	}
	panic("badEncoding called on valid UTF-8")
}

// stripComments removes # and // line comments and /* */ blocks, enough to
// tell whether a file declares anything.
func stripComments(src []byte) []byte {
	var out bytes.Buffer
	s := string(src)
	for len(s) > 0 {
		switch {
		case strings.HasPrefix(s, "#") || strings.HasPrefix(s, "//"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return out.Bytes()
			}
			s = s[i:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s, "*/")
			if i < 0 {
				return out.Bytes()
			}
			s = s[i+2:]
		default:
			out.WriteByte(s[0])
			s = s[1:]
		}
	}
	return out.Bytes()
}

// WriteDiagnostics renders diagnostics with source snippets, as
// file:line:col, summary and detail.
func (l *Loader) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, width uint, color bool) error {
	return hcl.NewDiagnosticTextWriter(w, l.Parser.Files(), width, color).WriteDiagnostics(diags)
}

// keepTemplates gives the parser the templates the config's file steps
// read, so that diagnostics in them render their source lines too.
func (l *Loader) keepTemplates(cfg *Config) {
	files := l.Parser.Files()
	for name, b := range cfg.templates {
		if _, ok := files[name]; !ok {
			files[name] = &hcl.File{Bytes: b}
		}
	}
}
