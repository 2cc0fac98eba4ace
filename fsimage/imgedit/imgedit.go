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
const Editable = "FAT12, FAT16 and FAT32"

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
	switch vol.FS {
	case allocmap.FAT12, allocmap.FAT16, allocmap.FAT32:
		return vol, nil
	}
	return nil, fmt.Errorf("%s holds %s; files can be put into %s partitions only", vol, vol.FS, Editable)
}

// Patch returns the sectors that put files into v, a volume of the image
// r (diskSize bytes) that Open returned, in order: a later file of the
// same path replaces an earlier one. Patch only reads r.
func Patch(r io.ReaderAt, diskSize int64, v *relabel.Volume, files []File) (*Result, error) {
	p := relabel.NewPatcher(r, diskSize)
	e, err := openFAT(p, r, diskSize, v)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, f := range files {
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
	return res, nil
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
		if p.End() <= off || p.Offset >= end {
			continue
		}
		from, to := max(p.Offset, off), min(p.End(), end)
		copy(b[from-off:to-off], p.Data[from-p.Offset:to-p.Offset])
	}
	return n, err
}
