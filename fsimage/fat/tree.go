package fat

import (
	"fmt"
	"sort"
	"strings"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/units"
)

// maxFileSize is the largest file FAT's 32-bit size field holds.
const maxFileSize = 1<<32 - 1

// maxDirSlots is the most 32-byte entries a FAT directory may hold.
const maxDirSlots = 65536

// node is one directory or file of the volume.
type node struct {
	e        *fsimage.Entry // nil for the root
	name     string         // last path element
	parent   *node
	children []*node // in Entries order
	short    shortName
	ntFlags  byte
	lfn      int   // long-name entries needed, 0 for none
	slots    int   // directories: 32-byte entries
	cluster  int64 // first cluster, 0 when none
	nclust   int64
}

// generatedSlots are the directory entries a generated file or folder is
// given in its parent, whatever its name: those of the longest long name
// (255 UTF-16 units in 20 long-name entries) and its short entry.
var generatedSlots = 1 + lfnSlots(255)

func (n *node) isDir() bool { return n.e == nil || n.e.Dir }

func (n *node) path() string {
	if n.e == nil {
		return "/"
	}
	return n.e.Path
}

// tree is the content as directories of nodes.
type tree struct {
	root  *node
	nodes []node // nodes[0] is the root, nodes[i+1] is Entries[i]
}

type foldKey struct {
	dir  *node
	name string
}

// buildTree links the entries into a tree and checks every name. It returns
// a *fsimage.BadNamesError listing every path FAT cannot hold, or a plain
// error when the entries break the Volume contract.
func buildTree(entries []*fsimage.Entry, hasLabel bool) (*tree, error) {
	t := &tree{nodes: make([]node, len(entries)+1)}
	t.root = &t.nodes[0]
	if hasLabel {
		t.root.slots = 1
	}
	dirs := make(map[string]*node)
	dirs[""] = t.root
	folded := make(map[foldKey]*node, len(entries))
	var bad []fsimage.BadName
	reported := make(map[*node]bool)
	for i, e := range entries {
		n := &t.nodes[i+1]
		n.e = e
		dir, name := "", e.Path
		if j := strings.LastIndexByte(e.Path, '/'); j >= 0 {
			dir, name = e.Path[:j], e.Path[j+1:]
		}
		if name == "" || name == "." || name == ".." || strings.HasPrefix(e.Path, "/") {
			return nil, fmt.Errorf("fat: entry %d has an invalid path %q", i, e.Path)
		}
		parent, ok := dirs[dir]
		if !ok {
			return nil, fmt.Errorf("fat: entry %q comes before its parent directory %q, or the parent is missing or not a directory", e.Path, dir)
		}
		if e.Size < 0 || (e.Dir && e.Size != 0) {
			return nil, fmt.Errorf("fat: entry %q has invalid size %d", e.Path, e.Size)
		}
		n.parent, n.name = parent, name
		parent.children = append(parent.children, n)
		if e.Dir {
			dirs[e.Path] = n
			n.slots = 2 // "." and ".."
		}
		if reason := checkLongName(name); reason != "" {
			bad = append(bad, fsimage.BadName{Path: e.Path, Reason: reason})
			continue
		}
		if !e.Dir && e.Size > maxFileSize {
			bad = append(bad, fsimage.BadName{Path: e.Path, Reason: fmt.Sprintf(
				"file is %s; FAT32 holds files up to 4294967295 bytes (4 GiB - 1): use exfat", units.Exact(e.Size))})
		}
		key := foldKey{parent, foldName(name)}
		if other, dup := folded[key]; dup {
			if other.name == name {
				return nil, fmt.Errorf("fat: entry %q appears twice", e.Path)
			}
			bad = append(bad, fsimage.BadName{Path: e.Path, Reason: fmt.Sprintf(
				"same name as %q when case is ignored (FAT names are case-insensitive)", other.e.Path)})
			if !reported[other] {
				reported[other] = true
				bad = append(bad, fsimage.BadName{Path: other.e.Path, Reason: fmt.Sprintf(
					"same name as %q when case is ignored (FAT names are case-insensitive)", e.Path)})
			}
			continue
		}
		folded[key] = n
		n.short, n.ntFlags, ok = plainShort(name)
		if !ok {
			n.lfn = lfnSlots(utf16Len(name))
		}
		if e.Generated {
			// Room for the longest name: a folder's size must not
			// depend on the name a stick's generated file gets, or the
			// shared content after it would move from stick to stick.
			parent.slots += generatedSlots
		} else {
			parent.slots += 1 + n.lfn
		}
	}
	for i := range t.nodes {
		if n := &t.nodes[i]; n.isDir() && n.slots > maxDirSlots {
			bad = append(bad, fsimage.BadName{Path: n.path(), Reason: fmt.Sprintf(
				"directory needs %d entries of 32 bytes (long names take several); FAT allows %d", n.slots, maxDirSlots)})
		}
	}
	if len(bad) > 0 {
		sort.SliceStable(bad, func(i, j int) bool { return bad[i].Path < bad[j].Path })
		return nil, &fsimage.BadNamesError{FS: "FAT32", Names: bad}
	}
	return t, nil
}

// assignAliases gives every node that needs long-name entries a unique 8.3
// alias. Names stored as plain short names are reserved first, then the
// upper-cased forms of mixed-case names that fit 8.3, and only then are
// "~N" aliases handed out, so that no alias equals another entry's name
// case-insensitively (a lookup by either name finds one entry).
func (t *tree) assignAliases() error {
	type basis struct {
		n         *node
		base, ext string
	}
	a := newAliaser(len(t.nodes))
	var pending []basis
	for i := 1; i < len(t.nodes); i++ {
		if n := &t.nodes[i]; n.lfn == 0 {
			a.reserve(n.parent, n.short)
		}
	}
	for i := 1; i < len(t.nodes); i++ {
		n := &t.nodes[i]
		if n.lfn == 0 {
			continue
		}
		base, ext, lossy := aliasBasis(n.name)
		if !lossy {
			if s, ok := a.exact(n.parent, base, ext); ok {
				n.short = s
				continue
			}
		}
		pending = append(pending, basis{n, base, ext})
	}
	for _, p := range pending {
		s, err := a.alias(p.n.parent, p.base, p.ext)
		if err != nil {
			return err
		}
		p.n.short = s
	}
	return nil
}
