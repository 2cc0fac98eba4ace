package diskimage

import (
	"archive/zip"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flashpipe/flashpipe/diskimage/bmap"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/units"
)

// Options say which image of a file to open and which block map to use.
type Options struct {
	// Entry names the zip entry that holds the image. "" picks the zip's
	// only image; it must be "" for a file that is not a zip.
	Entry string
	// Bmap is "" for no block map (the whole image is mapped), "auto" for
	// the one bmaptool would find (see Open), or the path of a .bmap file.
	Bmap string
	// Name is the name the file goes by when that is not its path: a file
	// read back while it is still written under a temporary name (capture
	// reads x.img.zst.part as x.img.zst). Its extension, not the path's,
	// then breaks the tie for a raw image without a signature. "" means
	// the path.
	Name string
}

// BmapAuto is the Options.Bmap value that finds a block map by bmaptool's
// naming conventions.
const BmapAuto = "auto"

// Source is an image file, opened and checked: its format, the image's
// size where the file says it without decoding, the image's first bytes,
// and its block map. A Source holds no open file.
type Source struct {
	// Path is the file as given to Open.
	Path string
	// Format is the file's format, from its first bytes.
	Format Format
	// Entry is the zip entry holding the image ("" unless Format is Zip);
	// EntryFormat the format of that entry's content (Raw or compressed).
	Entry       string
	EntryFormat Format
	// FileSize is the file's size in bytes.
	FileSize int64
	// Size is the image's size in bytes, or -1 when the file does not say
	// it without decoding it all (gzip, bzip2, zstd, or compressed inside a
	// zip) and no block map gives it. SizeFrom says where Size comes from:
	// "file", "zip directory", "xz index" or "block map".
	Size     int64
	SizeFrom string
	// Head is the image's first bytes (64 KiB, or the whole image when it
	// is smaller): enough to read its partition table.
	Head []byte
	// Bmap is the block map, nil without one. BmapName names where it came
	// from: a path, or "archive.zip:entry.bmap". With Options.Bmap "auto"
	// and none found, BmapTried lists the names looked for.
	Bmap      *bmap.Map
	BmapName  string
	BmapTried []string

	id  fileID // the file as Open read it
	tie string // the name that breaks the tie for a raw image (Options.Name)
}

// Name names the image for messages: the path, with ":entry" for a zip.
func (s *Source) Name() string {
	if s.Entry != "" {
		return s.Path + ":" + s.Entry
	}
	return s.Path
}

// Open opens path, detects its format by its first bytes (the name only
// breaks a tie for a raw image without a partition table or filesystem
// signature), resolves the zip entry, reads the image's first bytes and
// its size where the format gives it, and reads and checks the block map.
//
// With Options.Bmap "auto" the block map is looked for as bmaptool copy
// does (bmap.Candidates): for a zip, first among its entries next to the
// image's entry, then next to the zip file; otherwise next to the file. No
// block map found is not an error: the whole image is mapped.
//
// Every error names the file and says what to do.
func Open(path string, opt Options) (*Source, error) {
	// Never open a FIFO or a device for reading: it may block forever.
	f, fi, err := fsimage.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("opening image: %w", err)
	}
	defer f.Close()
	s := &Source{Path: path, FileSize: fi.Size(), Size: -1, id: identify(fi), tie: cmp.Or(opt.Name, path)}
	head := make([]byte, headSize)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading image %s: %w", path, err)
	}
	if s.Format, err = detect(s.tie, head[:n]); err != nil {
		return nil, err
	}
	if opt.Entry != "" && s.Format != Zip {
		return nil, fmt.Errorf("image %s is %s, not a zip archive; an entry (%q) can only be named in a zip", path, s.Format, opt.Entry)
	}
	var zr *zip.Reader
	if s.Format == Zip {
		if zr, err = s.resolveEntry(f, opt.Entry); err != nil {
			return nil, err
		}
	}
	if err := s.size(f); err != nil {
		return nil, err
	}
	if err := s.readHead(f); err != nil {
		return nil, err
	}
	if err := s.resolveBmap(opt.Bmap, zr); err != nil {
		return nil, err
	}
	return s, nil
}

// resolveEntry picks the zip entry that holds the image.
func (s *Source) resolveEntry(f *os.File, name string) (*zip.Reader, error) {
	zr, err := zip.NewReader(f, s.FileSize)
	if err != nil {
		return nil, fmt.Errorf("image %s starts as a zip archive but its directory, at the end of the file, is missing or damaged (is the file truncated?): %w", s.Path, err)
	}
	var images []*zip.File
	for _, zf := range zr.File {
		if name != "" && zf.Name == name {
			images = []*zip.File{zf}
			break
		}
		if name == "" && isImageEntry(zf) {
			images = append(images, zf)
		}
	}
	switch {
	case name != "" && len(images) == 0:
		return nil, fmt.Errorf("zip archive %s has no entry %q; it holds %s", s.Path, name, listEntries(zr))
	case len(images) == 0:
		return nil, fmt.Errorf("zip archive %s holds no disk image; it holds %s", s.Path, listEntries(zr))
	case len(images) > 1:
		var names []string
		for _, zf := range images {
			names = append(names, fmt.Sprintf("%q (%s)", zf.Name, units.Bytes(int64(zf.UncompressedSize64))))
		}
		return nil, fmt.Errorf("zip archive %s holds %d images: %s; name the one to write (entry = \"...\")", s.Path, len(images), strings.Join(names, ", "))
	}
	zf := images[0]
	if _, ok := zipMethods[zf.Method]; !ok {
		return nil, fmt.Errorf("zip entry %s of %s is compressed with method %d, which flashpipe does not read (%s)", zf.Name, s.Path, zf.Method, zipMethodList)
	}
	if zf.Mode().IsDir() {
		return nil, fmt.Errorf("zip entry %s of %s is a directory", zf.Name, s.Path)
	}
	s.Entry = zf.Name
	return zr, nil
}

// sidecars are the extensions of files that travel with an image in a zip
// and are not images: block maps, checksums, signatures, documents.
var sidecars = []string{".bmap", ".sha1", ".sha256", ".sha512", ".md5", ".sig", ".asc", ".gpg", ".txt", ".md",
	".html", ".htm", ".pdf", ".json", ".xml", ".yaml", ".yml", ".url", ".ini", ".cfg", ".log"}

// isImageEntry: a zip entry that may hold the image: a file that is not
// a known companion file (sidecars, README*, LICENSE*, *SUMS, macOS
// metadata).
func isImageEntry(zf *zip.File) bool {
	name := zf.Name
	base := strings.ToUpper(path.Base(name))
	if zf.Mode().IsDir() || strings.HasSuffix(name, "/") || strings.HasPrefix(name, "__MACOSX/") ||
		strings.HasPrefix(base, "README") || strings.HasPrefix(base, "LICENSE") || strings.HasSuffix(base, "SUMS") {
		return false
	}
	ext := strings.ToLower(path.Ext(name))
	for _, s := range sidecars {
		if ext == s {
			return false
		}
	}
	return true
}

// listEntries lists a zip's entries for an error message.
func listEntries(zr *zip.Reader) string {
	if len(zr.File) == 0 {
		return "no entries"
	}
	var names []string
	for _, zf := range zr.File {
		names = append(names, fmt.Sprintf("%q", zf.Name))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// zipEntry finds the Source's entry in the zip read from f.
func (s *Source) zipEntry(f io.ReaderAt) (*zip.File, error) {
	zr, err := zip.NewReader(f, s.FileSize)
	if err != nil {
		return nil, fmt.Errorf("image %s is not a readable zip archive: %w", s.Path, err)
	}
	for _, zf := range zr.File {
		if zf.Name == s.Entry {
			return zf, nil
		}
	}
	return nil, fmt.Errorf("zip archive %s has no entry %q any more", s.Path, s.Entry)
}

// readHead decodes the image's first bytes; for a zip entry it first
// detects the entry's own format.
func (s *Source) readHead(f *os.File) error {
	if s.Format == Zip {
		s.EntryFormat = Raw
		raw, err := s.decodedHead(f)
		if err != nil {
			return err
		}
		if s.EntryFormat, err = detect(s.Entry, raw); err != nil {
			return fmt.Errorf("zip archive %s: %w", s.Path, err)
		}
		if s.EntryFormat == Zip {
			return fmt.Errorf("zip archive %s: entry %s is itself a zip archive; unpack the outer one", s.Path, s.Entry)
		}
		switch s.EntryFormat {
		case Raw:
			zf, err := s.zipEntry(f)
			if err != nil {
				return err
			}
			s.Head, s.Size, s.SizeFrom = raw, int64(zf.UncompressedSize64), "zip directory"
			return nil
		case Xz:
			if err := checkXzHead(raw); err != nil {
				return fmt.Errorf("%s: %w", s.describe(), err)
			}
		}
	}
	head, err := s.decodedHead(f)
	if err != nil {
		return err
	}
	if s.Format == Raw {
		s.Head = head
		return nil
	}
	// What a compressed file holds must be a raw image: not a tar, and
	// not compressed twice.
	name := s.Name()
	if s.Format != Zip {
		name = s.tie
	}
	inner := strings.TrimSuffix(name, path.Ext(name))
	switch got, err := detect(inner, head); {
	case err != nil:
		return fmt.Errorf("%s decompressed: %w", s.describe(), err)
	case got != Raw:
		return fmt.Errorf("%s holds %s data inside; decompress it once and use what that gives", s.describe(), got)
	}
	s.Head = head
	return nil
}

// describe says what the source is: "image x.img.xz (xz)".
func (s *Source) describe() string {
	if s.Format == Zip {
		return fmt.Sprintf("zip entry %s of %s (%s)", s.Entry, s.Path, s.EntryFormat)
	}
	return fmt.Sprintf("image %s (%s)", s.Path, s.Format)
}

// decodedHead decodes up to headSize bytes of the image.
func (s *Source) decodedHead(f *os.File) ([]byte, error) {
	d, c, base, err := stream(s, f, nil)
	if err != nil {
		return nil, s.decodeError(err, c, base, 0)
	}
	defer d.Close()
	head := make([]byte, headSize)
	n, err := fillBuf(d, head)
	if err != nil && err != io.EOF {
		return nil, s.decodeError(err, c, base, int64(n))
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds an empty image", s.describe())
	}
	return head[:n], nil
}

// size sets Size where the file gives it without decoding; for xz it also
// checks every block's header.
func (s *Source) size(f *os.File) error {
	switch s.Format {
	case Raw:
		s.Size, s.SizeFrom = s.FileSize, "file"
	case Xz:
		_, size, err := xzLayout(f, s.FileSize)
		if err != nil {
			return fmt.Errorf("image %s (xz) is damaged or truncated: %w", s.Path, err)
		}
		s.Size, s.SizeFrom = size, "xz index"
	}
	return nil
}

// resolveBmap reads the block map opt names, or finds it ("auto").
func (s *Source) resolveBmap(opt string, zr *zip.Reader) error {
	switch opt {
	case "":
		return nil
	case BmapAuto:
		if err := s.findBmap(zr); err != nil || s.Bmap == nil {
			return err
		}
	default:
		m, err := bmap.ReadFile(opt)
		if err != nil {
			return err
		}
		s.Bmap, s.BmapName = m, opt
	}
	switch {
	case s.Size >= 0 && s.Bmap.ImageSize != s.Size:
		return fmt.Errorf("block map %s is for an image of %s, but %s is %s (from its %s): the map belongs to another image",
			s.BmapName, units.Exact(s.Bmap.ImageSize), s.Name(), units.Exact(s.Size), s.SizeFrom)
	case s.Size < 0:
		s.Size, s.SizeFrom = s.Bmap.ImageSize, "block map"
	}
	return nil
}

// findBmap looks for the block map as bmaptool does.
func (s *Source) findBmap(zr *zip.Reader) error {
	if zr != nil {
		for _, name := range bmap.Candidates(s.Entry) {
			s.BmapTried = append(s.BmapTried, s.Path+":"+name)
			zf, err := zr.Open(name)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("reading block map %s:%s: %w", s.Path, name, err)
			}
			data, err := io.ReadAll(io.LimitReader(zf, 64<<20))
			zf.Close()
			if err != nil {
				return fmt.Errorf("reading block map %s:%s: %w", s.Path, name, err)
			}
			s.BmapName = s.Path + ":" + name
			s.Bmap, err = bmap.Parse(s.BmapName, data)
			return err
		}
	}
	for _, name := range bmap.Candidates(filepath.ToSlash(s.Path)) {
		name = filepath.FromSlash(name)
		s.BmapTried = append(s.BmapTried, name)
		if _, err := os.Stat(name); err != nil {
			continue
		}
		m, err := bmap.ReadFile(name)
		if err != nil {
			return err
		}
		s.Bmap, s.BmapName = m, name
		return nil
	}
	return nil
}
