// Package manifest turns a profile's content sources into a manifest: the
// sorted list of files and directories a stick receives, with each file's
// size, mode, modification time, inode and SHA1. Sources are only ever
// read.
//
// Symlink policy: a symlink inside a source directory is followed when its
// target resolves inside the same source root; the entry then takes the
// target's content and mode under the link's name. A link that points out
// of the root, a dangling link, and a link that leads back into a
// directory being walked (a loop) are errors naming the link. A source
// path given by the user may itself be a symlink; it is resolved first and
// becomes the root.
package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/flashpipe/flashpipe/fsimage"
)

// Source is one content block of a profile: paths on the host copied into
// the destination folder Dest ("" is the filesystem root). A directory's
// contents go under Dest; a file goes to Dest/basename.
//
// Include and Exclude are doublestar patterns matched against the
// slash-separated path relative to each source root (for a file given
// directly, its base name), e.g. "**/*.jpg". An empty Include means every
// file. A directory matched by Exclude is not descended. Include selects
// files; a directory is kept when it holds a kept file, or, when Include is
// empty, always.
type Source struct {
	Paths            []string
	Include, Exclude []string
	Dest             string
}

// Options tune Scan.
type Options struct {
	// Base resolves relative source paths (usually the directory of the
	// configuration file). "" means the working directory.
	Base string
	// Now is the modification time given to directories that only the
	// destination folder makes up (they have no source).
	Now time.Time
}

// Problem is one path Scan cannot take, and why.
type Problem struct {
	Path   string // host path
	Reason string
}

// ScanError lists every problem Scan met; nothing is returned with it.
type ScanError struct {
	Problems []Problem
}

// Error lists every problem, one per line.
func (e *ScanError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s) in the content sources:", len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s", p.Path, p.Reason)
	}
	return b.String()
}

// scanner collects the entries of all sources.
type scanner struct {
	opts     Options
	entries  map[string]*fsimage.Entry
	origin   map[string]string // destination path -> host path it came from
	problems []Problem
}

// Scan walks the sources and returns their entries sorted by Path, every
// parent directory present and listed before its children. Two sources
// that put a file (or a file and a directory) at the same destination path
// are an error naming both; directories merge. All problems are collected
// and returned together in a *ScanError.
func Scan(sources []Source, opts Options) ([]*fsimage.Entry, error) {
	s := &scanner{opts: opts, entries: map[string]*fsimage.Entry{}, origin: map[string]string{}}
	for i, src := range sources {
		if err := checkPatterns(src); err != nil {
			s.problem(fmt.Sprintf("source %d", i+1), err.Error())
			continue
		}
		dest, err := cleanDest(src.Dest)
		if err != nil {
			s.problem(fmt.Sprintf("source %d", i+1), err.Error())
			continue
		}
		for _, p := range src.Paths {
			s.scanRoot(src, dest, p)
		}
	}
	if len(s.problems) > 0 {
		sort.Slice(s.problems, func(i, j int) bool { return s.problems[i].Path < s.problems[j].Path })
		return nil, &ScanError{Problems: s.problems}
	}
	out := make([]*fsimage.Entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (s *scanner) problem(p, reason string) {
	s.problems = append(s.problems, Problem{Path: p, Reason: reason})
}

func checkPatterns(src Source) error {
	for _, p := range append(append([]string(nil), src.Include...), src.Exclude...) {
		if !doublestar.ValidatePattern(p) {
			return fmt.Errorf("invalid pattern %q", p)
		}
	}
	return nil
}

func cleanDest(d string) (string, error) {
	d = strings.Trim(strings.ReplaceAll(d, "\\", "/"), "/")
	if d == "" {
		return "", nil
	}
	c := path.Clean(d)
	if c == "." {
		return "", nil
	}
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("destination %q leaves the filesystem root", d)
	}
	return c, nil
}

func matchAny(patterns []string, rel string) bool {
	for _, p := range patterns {
		if ok, _ := doublestar.Match(p, rel); ok {
			return true
		}
	}
	return false
}

func (s *scanner) scanRoot(src Source, dest, p string) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.opts.Base, p)
	}
	root, err := filepath.EvalSymlinks(p)
	if err != nil {
		s.problem(p, fmt.Sprintf("cannot resolve the source: %v", unwrapPath(err)))
		return
	}
	root, err = filepath.Abs(root)
	if err != nil {
		s.problem(p, err.Error())
		return
	}
	fi, err := os.Stat(root)
	if err != nil {
		s.problem(p, unwrapPath(err).Error())
		return
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		s.problem(p, fmt.Sprintf("it is a %s: a source path must be a regular file or a directory", fsimage.KindOf(fi.Mode())))
		return
	}
	if !fi.IsDir() {
		name := filepath.Base(root)
		if filepath.Base(p) != name {
			name = filepath.Base(p) // a symlink given as source keeps its own name
		}
		if (len(src.Include) == 0 || matchAny(src.Include, name)) && !matchAny(src.Exclude, name) {
			s.addParents(dest, p)
			s.addFile(path.Join(dest, name), root, p, fi)
		}
		return
	}
	w := walker{s: s, src: src, root: root, dest: dest, stack: []fileID{idOf(fi)}}
	if w.walk(root, "") || len(src.Include) == 0 {
		s.addParents(dest, p)
	}
}

// walker walks one source directory.
type walker struct {
	s     *scanner
	src   Source
	root  string   // resolved absolute root
	dest  string   // destination folder
	stack []fileID // directories being walked, for loop detection
}

// walk adds the entries below dir (host path; rel is its path relative to
// the root) and reports whether it kept anything.
func (w *walker) walk(dir, rel string) bool {
	des, err := os.ReadDir(dir)
	if err != nil {
		w.s.problem(dir, fmt.Sprintf("cannot read the directory: %v", unwrapPath(err)))
		return false
	}
	kept := false
	for _, de := range des {
		host := filepath.Join(dir, de.Name())
		r := path.Join(rel, de.Name())
		if matchAny(w.src.Exclude, r) {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			w.s.problem(host, unwrapPath(err).Error())
			continue
		}
		target := host
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, fi, err = w.follow(host)
			if err != nil {
				w.s.problem(host, err.Error())
				continue
			}
		}
		if w.visit(host, target, r, fi) {
			kept = true
		}
	}
	return kept
}

// visit adds one walked item; host is its path in the tree, target the
// path its content is read from (they differ for followed links).
func (w *walker) visit(host, target, r string, fi fs.FileInfo) bool {
	destPath := path.Join(w.dest, r)
	switch {
	case fi.IsDir():
		id := idOf(fi)
		for _, a := range w.stack {
			if a == id {
				w.s.problem(host, "symlink loop: it leads back into a directory being copied")
				return false
			}
		}
		w.stack = append(w.stack, id)
		kept := w.walk(target, r)
		w.stack = w.stack[:len(w.stack)-1]
		if kept || len(w.src.Include) == 0 || matchAny(w.src.Include, r) {
			w.s.addDir(destPath, host, fi)
			return true
		}
		return false
	case fi.Mode().IsRegular():
		if len(w.src.Include) > 0 && !matchAny(w.src.Include, r) {
			return false
		}
		w.s.addFile(destPath, target, host, fi)
		return true
	}
	w.s.problem(host, fmt.Sprintf("special file (%s) cannot be copied", fsimage.KindOf(fi.Mode())))
	return false
}

// follow resolves a symlink inside the root.
func (w *walker) follow(link string) (string, fs.FileInfo, error) {
	t, err := filepath.EvalSymlinks(link)
	if err != nil {
		dest, _ := os.Readlink(link)
		if strings.Contains(err.Error(), "too many links") {
			return "", nil, fmt.Errorf("symlink loop (-> %s)", dest)
		}
		return "", nil, fmt.Errorf("dangling symlink (-> %s): %v", dest, unwrapPath(err))
	}
	if t != w.root && !strings.HasPrefix(t, w.root+string(filepath.Separator)) {
		return "", nil, fmt.Errorf("symlink points out of the source root %s (-> %s)", w.root, t)
	}
	fi, err := os.Stat(t)
	if err != nil {
		return "", nil, unwrapPath(err)
	}
	return t, fi, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// addParents adds the directories of the destination folder.
func (s *scanner) addParents(dest, host string) {
	for d := dest; d != "" && d != "."; d = path.Dir(d) {
		if _, ok := s.entries[d]; !ok {
			s.entries[d] = &fsimage.Entry{Path: d, Dir: true, Mode: fs.ModeDir | 0o755, ModTime: s.opts.Now}
			s.origin[d] = host
		}
	}
}

func (s *scanner) addDir(p, host string, fi fs.FileInfo) {
	if old, ok := s.entries[p]; ok {
		if !old.Dir {
			s.collide(p, host)
		} else if old.Source == "" {
			old.Source, old.Mode, old.ModTime, old.Inode = host, fi.Mode(), fi.ModTime(), inodeOf(fi)
		}
		return
	}
	s.entries[p] = &fsimage.Entry{Path: p, Source: host, Dir: true, Mode: fi.Mode(), ModTime: fi.ModTime(), Inode: inodeOf(fi)}
	s.origin[p] = host
}

func (s *scanner) addFile(p, target, host string, fi fs.FileInfo) {
	if _, ok := s.entries[p]; ok {
		s.collide(p, host)
		return
	}
	f, fi, err := fsimage.OpenRegular(target)
	if err != nil {
		s.problem(host, fmt.Sprintf("unreadable: %v", unwrapPath(err)))
		return
	}
	f.Close()
	e := &fsimage.Entry{Path: p, Source: target, Mode: fi.Mode()}
	SetVersion(e, fi)
	s.entries[p] = e
	s.origin[p] = host
}

func (s *scanner) collide(p, host string) {
	s.problem(host, fmt.Sprintf("destination %q is also given by %s", p, s.origin[p]))
}
