package steps

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/compile"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/hashicorp/hcl/v2"
)

// Generate evaluates the layout's file steps for the job's stick and adds
// their files to the shared entries, marked Generated, so the builders lay
// them out after the shared content. Their bytes stay in memory
// (Entry.Data; the plan's InlineData makes them Bytes extents), unless the
// filesystem's builder reads source files (ext4): then each is written to
// a temporary file, removed when the job closes. A missing folder on the
// path is made up; a path the shared content or another file step already
// has fails the job before anything is written.
func Generate(l *pipeline.WriteSpec, j *pipeline.Job, shared []*fsimage.Entry) ([]*fsimage.Entry, error) {
	if len(l.Files) == 0 {
		return shared, nil
	}
	dir := ""
	if fs, err := compile.Lookup(l.FS); err == nil && fs.ReadsSources {
		if dir, err = os.MkdirTemp("", "flashpipe-files-"); err != nil {
			return nil, fmt.Errorf("generated files: %w", err)
		}
		j.Closers = append(j.Closers, func() error { return os.RemoveAll(dir) })
	}
	byPath := map[string]*fsimage.Entry{}
	for _, e := range shared {
		byPath[strings.ToLower(e.Path)] = e
	}
	entries := append([]*fsimage.Entry(nil), shared...)
	ctx := j.EvalContext()
	byDir := map[string]*hcl.EvalContext{} // the file functions of each step's folder, made once
	for i, f := range l.Files {
		fctx := byDir[f.Dir]
		if fctx == nil {
			fctx = pipeline.WithFiles(ctx, f.Dir)
			byDir[f.Dir] = fctx
		}
		g, err := EvalFile(f, fctx, j.Now)
		if err != nil {
			return nil, err
		}
		if prev, ok := byPath[strings.ToLower(g.Path)]; ok {
			what := "the content copied"
			if prev.Generated {
				what = "another file step"
			}
			return nil, fmt.Errorf("file %s: %s has a file or folder with this name already (%s)", g.Path, what, prev.Path)
		}
		e, err := writeGenerated(dir, i, g)
		if err != nil {
			return nil, err
		}
		byPath[strings.ToLower(e.Path)] = e
		entries = append(entries, e)
		for d := path.Dir(g.Path); d != "."; d = path.Dir(d) {
			prev, ok := byPath[strings.ToLower(d)]
			if ok && !prev.Dir {
				return nil, fmt.Errorf("file %s: %s is a file, not a folder", g.Path, prev.Path)
			}
			if !ok {
				pe := &fsimage.Entry{Path: d, Dir: true, Mode: fs.ModeDir | 0o755, ModTime: j.Now, Generated: true}
				byPath[strings.ToLower(d)] = pe
				entries = append(entries, pe)
			}
		}
	}
	sort.Slice(entries, func(a, b int) bool { return entries[a].Path < entries[b].Path })
	return entries, nil
}

// writeGenerated returns the entry of one generated file: its bytes in
// memory, or, when dir is set, written to a file of its own there, dated
// as the entry says.
func writeGenerated(dir string, i int, g GeneratedFile) (*fsimage.Entry, error) {
	e := &fsimage.Entry{Path: g.Path, Size: int64(len(g.Data)), Mode: g.Mode, ModTime: g.ModTime, SHA1: sha1.Sum(g.Data), Generated: true}
	if dir == "" {
		e.Data = g.Data
		if e.Data == nil {
			e.Data = []byte{}
		}
		return e, nil
	}
	src := filepath.Join(dir, fmt.Sprintf("%d", i))
	if err := os.WriteFile(src, g.Data, 0o600); err != nil {
		return nil, fmt.Errorf("file %s: %w", g.Path, err)
	}
	if err := os.Chtimes(src, g.ModTime, g.ModTime); err != nil {
		return nil, fmt.Errorf("file %s: %w", g.Path, err)
	}
	e.Source = src
	return e, nil
}

// Shared returns the entries that are not generated for one stick: the
// profile's shared content, which the manifest digest covers.
func Shared(entries []*fsimage.Entry) []*fsimage.Entry {
	var out []*fsimage.Entry
	for _, e := range entries {
		if !e.Generated {
			out = append(out, e)
		}
	}
	return out
}

// generatedFiles lists the generated files of entries for the receipt.
func generatedFiles(entries []*fsimage.Entry) []receipts.GeneratedFile {
	var out []receipts.GeneratedFile
	for _, e := range entries {
		if e.Generated && !e.Dir {
			out = append(out, receipts.GeneratedFile{Path: e.Path, SHA1: hex.EncodeToString(e.SHA1[:]), Size: e.Size})
		}
	}
	return out
}
