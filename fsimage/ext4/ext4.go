// Package ext4 builds an ext4 filesystem for a write plan by running
// mke2fs (e2fsprogs) on a sparse temporary image and describing that image
// as extents.
//
// Unlike the FAT and exFAT builders this one reads file contents at plan
// time: `mke2fs -d` copies a staging tree (hard links to the sources where
// they share a filesystem with the temporary directory, copies otherwise)
// into the image. The plan then refers to the image, not to the sources:
//
//   - the image's data ranges (found with SEEK_DATA/SEEK_HOLE) become
//     FileData extents whose Entry is the image itself;
//   - holes that lie inside the inode tables or the journal become Zero
//     extents (mke2fs is told to initialise both fully, with
//     lazy_itable_init=0 and lazy_journal_init=0, so the kernel relies on
//     them reading as zeros);
//   - every other hole is free space: don't care.
//
// mke2fs 1.47 keeps modification times to the second, and files keep the
// owner and group of their staged copy (the source's, for hard links; the
// station's, for copies); the root directory is owned by 0:0.
//
// ext4 places files where it likes, so the Layout has no FileRuns;
// verification of an ext4 stick is the byte comparison of the plan's
// extents read back from the stick against the image.
package ext4

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashpipe/flashpipe/fsimage"
)

// BlockSize is the ext4 block size used for every volume.
const BlockSize = 4096

// MaxLabel is the longest ext4 volume label, in bytes.
const MaxLabel = 16

// MaxFileSize is the largest ext4 file with BlockSize blocks: an extent
// addresses at most 2^32 - 1 logical blocks.
const MaxFileSize = (1<<32 - 1) * BlockSize

// CheckLabel returns an error when label cannot be an ext4 volume label.
// validate checks labels with it too.
func CheckLabel(label string) error {
	if len(label) > MaxLabel {
		return fmt.Errorf("ext4: volume label %q is %d bytes long; ext4 allows %d", label, len(label), MaxLabel)
	}
	return nil
}

// Options tune Build.
type Options struct {
	// TempDir holds the staging tree and the image; "" means os.TempDir().
	// It should be on the same filesystem as the sources so that staging
	// uses hard links instead of copies, and must have room for the
	// content (the image is sparse).
	TempDir string
	// Tools maps "mke2fs", "dumpe2fs" and "debugfs" to the programs to run;
	// missing names are looked up in $PATH.
	Tools map[string]string
}

func (o Options) tool(name string) string {
	if p, ok := o.Tools[name]; ok {
		return p
	}
	return name
}

// Build makes an ext4 filesystem of vol.Size bytes (rounded down to whole
// blocks) holding vol.Entries and returns its extents, placed at
// vol.Offset, and a cleanup function that removes the temporary image. The
// image must stay in place until the plan has been written and verified.
// Content that does not fit gives a *fsimage.NoSpaceError.
func Build(vol fsimage.Volume, opts Options) (layout *fsimage.Layout, cleanup func() error, err error) {
	if err := CheckLabel(vol.Label); err != nil {
		return nil, nil, &fsimage.BadNamesError{FS: "ext4", Names: []fsimage.BadName{{Path: vol.Label, Reason: err.Error()}}}
	}
	if err := checkNames(vol.Entries); err != nil {
		return nil, nil, err
	}
	size := vol.Size / BlockSize * BlockSize
	if size < 1<<20 {
		return nil, nil, &fsimage.NoSpaceError{What: "ext4 volume", Needed: 1 << 20, Available: vol.Size}
	}
	tmp, err := os.MkdirTemp(opts.TempDir, "flashpipe-ext4-")
	if err != nil {
		return nil, nil, err
	}
	remove := func() error { return os.RemoveAll(tmp) }
	defer func() {
		if err != nil {
			remove()
		}
	}()
	staging := filepath.Join(tmp, "root")
	if err := stage(staging, vol.Entries, vol.Now); err != nil {
		return nil, nil, err
	}
	img := filepath.Join(tmp, "ext4.img")
	if err := mkfs(img, staging, size, vol, opts); err != nil {
		return nil, nil, err
	}
	if err := os.RemoveAll(staging); err != nil {
		return nil, nil, err
	}
	zero, err := mustZero(img, opts)
	if err != nil {
		return nil, nil, err
	}
	xs, err := extents(img, size, vol.Offset, zero)
	if err != nil {
		return nil, nil, err
	}
	return &fsimage.Layout{Extents: xs, Label: vol.Label}, remove, nil
}

// checkNames reports names ext4 cannot hold (components over 255 bytes;
// any other byte but '/' and NUL is allowed, and names are case
// sensitive) and files over MaxFileSize.
func checkNames(entries []*fsimage.Entry) error {
	var bad []fsimage.BadName
	for _, e := range entries {
		if n := len(path.Base(e.Path)); n > 255 {
			bad = append(bad, fsimage.BadName{Path: e.Path, Reason: fmt.Sprintf("name is %d bytes long, ext4 allows 255", n)})
		}
		if !e.Dir && e.Size > MaxFileSize {
			bad = append(bad, fsimage.BadName{Path: e.Path, Reason: fmt.Sprintf("file is %d bytes; ext4 with %d-byte blocks holds files up to %d bytes", e.Size, BlockSize, int64(MaxFileSize))})
		}
		if strings.ContainsRune(e.Path, 0) {
			bad = append(bad, fsimage.BadName{Path: e.Path, Reason: "name contains a NUL byte"})
		}
	}
	if len(bad) > 0 {
		return &fsimage.BadNamesError{FS: "ext4", Names: bad}
	}
	return nil
}

// stage builds the tree mke2fs copies: directories with the entries' modes
// and times, files hard-linked to their sources or copied.
func stage(root string, entries []*fsimage.Entry, now time.Time) error {
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	var dirs []*fsimage.Entry
	for _, e := range entries {
		p := filepath.Join(root, filepath.FromSlash(e.Path))
		if e.Dir {
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, e)
			continue
		}
		if err := os.Link(e.Source, p); err == nil {
			// mke2fs -d copies what it finds: a FIFO or a device that took
			// the source's place would go into the filesystem as one.
			if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() || e.Differs(fi) != "" {
				return fmt.Errorf("stage %s: the file changed since the manifest was made", e.Source)
			}
			continue
		}
		if err := copyFile(p, e); err != nil {
			return err
		}
	}
	// Children change their parent's mtime: set directories last, deepest first.
	if !now.IsZero() {
		if err := os.Chtimes(root, now, now); err != nil {
			return err
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		e := dirs[i]
		p := filepath.Join(root, filepath.FromSlash(e.Path))
		if err := os.Chmod(p, e.Mode.Perm()|0o700); err != nil {
			return err
		}
		if err := os.Chtimes(p, e.ModTime, e.ModTime); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(dst string, e *fsimage.Entry) error {
	in, _, err := fsimage.OpenRegular(e.Source)
	if err != nil {
		return fmt.Errorf("stage %s: %w", e.Source, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, e.Mode.Perm())
	if err != nil {
		return err
	}
	h := sha1.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("stage %s: %w", e.Source, err)
	}
	if n != e.Size || (e.SHA1 != [20]byte{} && !bytes.Equal(h.Sum(nil), e.SHA1[:])) {
		return fmt.Errorf("stage %s: the file changed since the manifest was made", e.Source)
	}
	return os.Chtimes(dst, e.ModTime, e.ModTime)
}

// mke2fsConf pins the features every volume gets, whatever the host's
// /etc/mke2fs.conf says (these are e2fsprogs 1.47's defaults for ext4).
const mke2fsConf = `[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	default_mntopts = acl,user_xattr
	enable_periodic_fsck = 0
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384
[fs_types]
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
`

// deriveUUID gives a stable filesystem UUID for a volume serial.
func deriveUUID(serial uint32) string {
	s := sha1.Sum([]byte(fmt.Sprintf("flashpipe ext4 %08x", serial)))
	s[6] = s[6]&0x0F | 0x50
	s[8] = s[8]&0x3F | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

func mkfs(img, staging string, size int64, vol fsimage.Volume, opts Options) error {
	f, err := os.Create(img)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	uuid := deriveUUID(vol.Serial)
	args := []string{"-q", "-F", "-t", "ext4", "-b", strconv.Itoa(BlockSize), "-m", "0", "-L", vol.Label, "-U", uuid,
		"-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard,root_owner=0:0,hash_seed=" + uuid,
		"-d", staging, img}
	cmd := exec.Command(opts.tool("mke2fs"), args...)
	conf := filepath.Join(filepath.Dir(img), "mke2fs.conf")
	if err := os.WriteFile(conf, []byte(mke2fsConf), 0o644); err != nil {
		return err
	}
	cmd.Env = append(os.Environ(), "MKE2FS_CONFIG="+conf)
	if !vol.Now.IsZero() {
		cmd.Env = append(cmd.Env, "E2FSPROGS_FAKE_TIME="+strconv.FormatInt(vol.Now.Unix(), 10))
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	msg := string(out)
	if strings.Contains(msg, "No space left") || strings.Contains(msg, "Could not allocate block") ||
		strings.Contains(msg, "Could not allocate inode") || strings.Contains(msg, "too many inodes") {
		return &fsimage.NoSpaceError{What: "ext4 volume", Needed: estimate(vol.Entries), Available: size}
	}
	return fmt.Errorf("mke2fs %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(msg))
}

// estimate returns a rough size an ext4 volume needs for entries: data in
// whole blocks, a block per directory, an inode each, and a journal and
// other overhead of about 8 %.
func estimate(entries []*fsimage.Entry) int64 {
	var n int64
	for _, e := range entries {
		n += (e.Size+BlockSize-1)/BlockSize*BlockSize + 256
		if e.Dir {
			n += BlockSize
		}
	}
	return n + n/12 + 8<<20
}

// span is a range of bytes inside the image.
type span struct{ start, end int64 }

// mustZero returns the byte ranges of the image that must read as zeros:
// the inode tables and the journal, sorted.
func mustZero(img string, opts Options) ([]span, error) {
	out, err := exec.Command(opts.tool("dumpe2fs"), img).Output()
	if err != nil {
		return nil, fmt.Errorf("dumpe2fs %s: %w", img, err)
	}
	var zs []span
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "Inode table at ")
		if !ok {
			continue
		}
		a, b, ok := strings.Cut(strings.Fields(rest)[0], "-")
		x, err1 := strconv.ParseInt(a, 10, 64)
		y, err2 := strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("dumpe2fs %s: cannot parse %q", img, line)
		}
		zs = append(zs, span{x * BlockSize, (y + 1) * BlockSize})
	}
	out, err = exec.Command(opts.tool("debugfs"), "-R", "blocks <8>", img).Output()
	if err != nil {
		return nil, fmt.Errorf("debugfs %s: %w", img, err)
	}
	for _, f := range strings.Fields(string(out)) {
		b, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("debugfs blocks <8> %s: cannot parse %q", img, f)
		}
		zs = append(zs, span{b * BlockSize, (b + 1) * BlockSize})
	}
	if len(zs) == 0 {
		return nil, errors.New("dumpe2fs and debugfs found no inode tables: unexpected output")
	}
	sort.Slice(zs, func(i, j int) bool { return zs[i].start < zs[j].start })
	merged := zs[:1]
	for _, z := range zs[1:] {
		if last := &merged[len(merged)-1]; z.start <= last.end {
			last.end = max(last.end, z.end)
		} else {
			merged = append(merged, z)
		}
	}
	return merged, nil
}

// extents describes the image as FileData extents for its data ranges and
// Zero extents for the holes inside the ranges in zero.
func extents(img string, size, offset int64, zero []span) ([]fsimage.Extent, error) {
	f, err := os.Open(img)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	entry := &fsimage.Entry{Path: "ext4 image", Source: img, Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime()}
	data, err := dataRanges(int(f.Fd()), size)
	if err != nil {
		return nil, fmt.Errorf("scan %s for holes: %w", img, err)
	}
	var xs []fsimage.Extent
	for _, d := range data {
		xs = append(xs, fsimage.Extent{Offset: offset + d.start, Length: d.end - d.start, Kind: fsimage.FileData,
			Entry: entry, SourceOffset: d.start, What: "ext4"})
	}
	// Holes are the gaps between data ranges; intersect them with zero.
	prev := int64(0)
	holes := make([]span, 0, len(data)+1)
	for _, d := range data {
		if d.start > prev {
			holes = append(holes, span{prev, d.start})
		}
		prev = d.end
	}
	if prev < size {
		holes = append(holes, span{prev, size})
	}
	i := 0
	for _, h := range holes {
		for i < len(zero) && zero[i].end <= h.start {
			i++
		}
		for j := i; j < len(zero) && zero[j].start < h.end; j++ {
			s, e := max(h.start, zero[j].start), min(h.end, zero[j].end)
			if e > s {
				xs = append(xs, fsimage.Extent{Offset: offset + s, Length: e - s, Kind: fsimage.Zero, What: "ext4 metadata (zeros)"})
			}
		}
	}
	fsimage.SortExtents(xs)
	return xs, nil
}

// dataRanges lists the data ranges of an open file below size, using
// SEEK_DATA and SEEK_HOLE.
func dataRanges(fd int, size int64) ([]span, error) {
	var out []span
	off := int64(0)
	for off < size {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		if err != nil {
			return nil, err
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		end = min(end, size)
		if end > start {
			out = append(out, span{start, end})
		}
		off = end
	}
	return out, nil
}
