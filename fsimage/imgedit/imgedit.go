package imgedit

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/allocmap"
	"github.com/flashpipe/flashpipe/fsimage/relabel"
)

// File is one file to put into a volume.
type File struct {
	// Path is slash-separated and relative to the volume's root, as
	// steps.FilePath cleans it: "ssh", "config/wpa_supplicant.conf".
	Path    string
	Data    []byte
	ModTime time.Time
	// Source, when set, is the manifest entry (of step "copy") whose
	// source file holds the content, Source.Size bytes; Data is unused.
	// The content becomes FileData extents, read from the file as the
	// stick is written and checked against the entry, never held in
	// memory.
	Source *fsimage.Entry
	// Dir makes a folder at Path (and the folders above it), or keeps
	// the one there.
	Dir bool
}

// size returns the bytes of f's content.
func (f *File) size() int64 {
	if f.Source != nil {
		return f.Source.Size
	}
	return int64(len(f.Data))
}

// Result is what Patch lays over an image.
type Result struct {
	// Extents are the sectors that change, with their new bytes: Bytes
	// extents at image offsets, sorted, each whole 512-byte sectors.
	Extents []fsimage.Extent
	// Replaced are the paths of files the volume had that were replaced.
	Replaced []string
}

// Editable lists the filesystems Patch edits, for messages.
const Editable = "FAT12, FAT16, FAT32 and exFAT"

// CanEdit reports whether Patch puts files into a volume of filesystem fs.
func CanEdit(fs allocmap.FS) bool {
	switch fs {
	case allocmap.FAT12, allocmap.FAT16, allocmap.FAT32, allocmap.ExFAT:
		return true
	}
	return false
}

// Open finds partition n of the image r (size bytes; n as Linux numbers
// partitions, 0 for an image without a partition table) and checks that
// it holds a filesystem Patch can edit. It reads the partition table and
// the volume's boot sector.
func Open(r io.ReaderAt, size int64, n int) (*relabel.Volume, error) {
	vol, err := relabel.Find(r, size, n)
	if err != nil {
		return nil, err
	}
	if err := vol.Identify(r, size); err != nil {
		return nil, err
	}
	if CanEdit(vol.FS) {
		return vol, nil
	}
	return nil, fmt.Errorf("%s holds %s; files can be put into %s partitions only", vol, vol.FS, Editable)
}

// Patch returns the sectors that put files into v, a volume of the image
// r (diskSize bytes) that Open returned, in order: a later file of the
// same path replaces an earlier one. Patch only reads r.
func Patch(r io.ReaderAt, diskSize int64, v *relabel.Volume, files []File) (*Result, error) {
	p := relabel.NewPatcher(r, diskSize)
	var e editor
	var err error
	if v.FS == allocmap.ExFAT {
		e, err = openExFAT(p, r, diskSize, v)
	} else {
		e, err = openFAT(p, r, diskSize, v)
	}
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, f := range files {
		if f.Dir {
			if err := e.mkdir(f); err != nil {
				return nil, fmt.Errorf("%s: folder %s: %w", v, f.Path, err)
			}
			continue
		}
		replaced, err := e.put(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", v, f.Path, err)
		}
		if replaced {
			res.Replaced = append(res.Replaced, f.Path)
		}
	}
	if err := e.flush(); err != nil {
		return nil, fmt.Errorf("%s: %w", v, err)
	}
	if res.Extents, err = p.Extents(); err != nil {
		return nil, fmt.Errorf("%s: %w", v, err)
	}
	if data := e.content().extents; len(data) > 0 {
		res.Extents = append(res.Extents, data...)
		fsimage.SortExtents(res.Extents)
		if err := (&fsimage.Plan{Extents: res.Extents}).Check(); err != nil {
			return nil, fmt.Errorf("%s: %w", v, err)
		}
	}
	return res, nil
}

// editor puts files into one kind of filesystem.
type editor interface {
	put(f File) (replaced bool, err error)
	mkdir(f File) error
	flush() error
	content() *content
}

// content lays out files' content in the clusters given to them: bytes
// in memory through the patcher, a source file's as FileData extents.
type content struct {
	p       *relabel.Patcher
	extents []fsimage.Extent // FileData and Zero extents, in the order given out
}

// put lays out f's content in the clusters at the image offsets offs,
// cb bytes each; the last cluster's tail is zeros.
func (c *content) put(f *File, offs []int64, cb int64) error {
	size := f.size()
	for i, off := range offs {
		from := int64(i) * cb
		if f.Source == nil {
			b := make([]byte, cb)
			copy(b, f.Data[min(from, size):])
			if err := c.p.Put(off, b, "file "+f.Path); err != nil {
				return err
			}
			continue
		}
		n := min(cb, size-from)
		if k := len(c.extents); k > 0 && c.extents[k-1].Kind == fsimage.FileData && c.extents[k-1].Entry == f.Source &&
			c.extents[k-1].End() == off && c.extents[k-1].SourceOffset+c.extents[k-1].Length == from {
			c.extents[k-1].Length += n // the next cluster follows: one extent
		} else {
			c.extents = append(c.extents, fsimage.Extent{Offset: off, Length: n, Kind: fsimage.FileData, Entry: f.Source,
				SourceOffset: from, What: "file " + f.Path})
		}
		if n < cb {
			c.extents = append(c.extents, fsimage.Extent{Offset: off + n, Length: cb - n, Kind: fsimage.Zero, What: "file " + f.Path + " (end of its last cluster)"})
		}
	}
	return nil
}

// readAll returns n bytes of the image at off, read in pieces of at
// most what the patcher reads at once.
func readAll(p *relabel.Patcher, off, n int64) ([]byte, error) {
	out := make([]byte, 0, n)
	for done := int64(0); done < n; {
		k := min(n-done, 1<<20)
		b, err := p.Read(off+done, k)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
		done += k
	}
	return out, nil
}

// checkLink returns why cluster c cannot follow the n clusters of a chain
// so far, in a volume of clusters clusters (2 .. clusters+1), or nil.
func checkLink(c uint32, n int, clusters int64, what string) error {
	switch {
	case c < 2 || int64(c) >= clusters+2:
		return fmt.Errorf("%s: its cluster chain holds cluster %d, outside the volume's 2..%d", what, c, clusters+1)
	case int64(n) > clusters:
		return fmt.Errorf("%s: its cluster chain loops", what)
	}
	return nil
}

// folderOf returns the folder that holds path's last element, and that
// element, walking from root through subdir, which makes each folder that
// is not there: the walk of either filesystem's editor.
func folderOf[D any](path string, t time.Time, root func() (D, error), subdir func(D, string, time.Time) (D, error)) (D, string, error) {
	var zero D
	dirs, name, err := splitPath(path)
	if err != nil {
		return zero, "", err
	}
	d, err := root()
	if err != nil {
		return zero, "", err
	}
	for i, el := range dirs {
		if d, err = subdir(d, el, t); err != nil {
			return zero, "", fmt.Errorf("folder /%s: %w", strings.Join(dirs[:i+1], "/"), err)
		}
	}
	return d, name, nil
}

// mkdirOf makes the folder f.Path, or keeps the one there, as folderOf
// walks.
func mkdirOf[D any](f File, root func() (D, error), subdir func(D, string, time.Time) (D, error)) error {
	d, name, err := folderOf(f.Path, f.ModTime, root, subdir)
	if err == nil {
		_, err = subdir(d, name, f.ModTime)
	}
	return err
}

// splitPath returns the folders and the name of a cleaned path.
func splitPath(p string) (dirs []string, name string, err error) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for _, el := range parts {
		if el == "" || el == "." || el == ".." {
			return nil, "", fmt.Errorf("path %q has an empty, \".\" or \"..\" element", p)
		}
	}
	return parts[:len(parts)-1], parts[len(parts)-1], nil
}

// Layered reads r with patches laid over it: Bytes extents, sorted and
// apart, as Patch and relabel.Patch return them. An edit after a label
// reads the image as the label left it.
func Layered(r io.ReaderAt, patches []fsimage.Extent) io.ReaderAt {
	return &layered{r: r, patches: patches}
}

type layered struct {
	r       io.ReaderAt
	patches []fsimage.Extent
}

func (l *layered) ReadAt(b []byte, off int64) (int, error) {
	n, err := l.r.ReadAt(b, off)
	end := off + int64(len(b))
	for _, p := range l.patches {
		if p.End() <= off || p.Offset >= end || p.Kind != fsimage.Bytes {
			continue // a file's content (FileData) is never read back for an edit
		}
		from, to := max(p.Offset, off), min(p.End(), end)
		copy(b[from-off:to-off], p.Data[from-p.Offset:to-p.Offset])
	}
	return n, err
}
