// Package exfat lays out an exFAT filesystem as a write plan: the boot
// regions, FAT, allocation bitmap, up-case table and directories as bytes,
// and every file's data as one contiguous run of clusters that the executor
// copies from the source. It follows Microsoft's "exFAT file system
// specification" (section numbers in comments refer to it) and never reads
// file contents.
//
// The volume is laid out like mkfs.exfat does it: boot region and its backup
// in sectors 0–23, the FAT at 1 MiB (at the cluster size on volumes under
// 16 MiB), the cluster heap at the next such boundary. Cluster 2 onwards
// holds the allocation bitmap, the up-case table, the root directory, every
// other directory in manifest order, and then the files in manifest order.
// Files are marked NoFatChain, so their FAT entries stay zero; the system
// files and directories get FAT chains.
//
// Extents: Bytes for both boot regions, the FAT's used part, the bitmap's
// used part, the up-case table and each directory's entries (each padded to
// a whole sector), Zero for the rest of the FAT, of the bitmap and of those
// clusters, and FileData for each file (Length = its size). Everything else
// (between the boot regions and the FAT, between the FAT and the heap, the
// slack after each file, free clusters) is don't-care.
//
// Timestamps are written in UTC with the offset-valid flag set and 10 ms
// precision. The volume label always has its entry, empty or not, as
// mkfs.exfat writes it.
package exfat

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
)

const (
	minVolumeBytes  = 1 << 20    // §3.1.5: VolumeLength is at least 1 MiB
	maxClusterSize  = 32 << 20   // §3.1.15: at most 32 MiB
	maxClusterCount = 0xFFFFFFF5 // §3.1.9: 2^32 - 11
	maxDirBytes     = 256 << 20  // §7.6.7: a directory is at most 256 MiB
	fatEndOfChain   = 0xFFFFFFFF
	fatMedia        = 0xFFFFFFF8 // FAT[0]: media type F8
	heapAlign       = 1 << 20    // FAT and cluster heap alignment, as mkfs.exfat
	smallVolume     = 16 << 20   // below this, align to the cluster size only

	// maxFileSize is the largest file the format holds: a file lies in
	// the cluster heap, at most maxClusterCount clusters of maxClusterSize.
	maxFileSize = maxClusterCount * maxClusterSize
)

// DefaultClusterSize returns the cluster size mkfs.exfat and Windows pick
// for a volume of volumeBytes: 4 KiB up to 256 MiB, 32 KiB up to 32 GiB and
// 128 KiB above (Microsoft's "Default cluster size for NTFS, FAT, and exFAT"
// table; exfatprogs uses the same thresholds).
func DefaultClusterSize(volumeBytes int64) int {
	switch {
	case volumeBytes <= 256<<20:
		return 4 << 10
	case volumeBytes <= 32<<30:
		return 32 << 10
	}
	return 128 << 10
}

// clusterSize is the cluster size Build picks: DefaultClusterSize, but
// never less than the logical sector.
func clusterSize(volumeBytes int64, sectorSize int) int {
	return max(DefaultClusterSize(volumeBytes), sectorSize)
}

// Build lays out an exFAT filesystem holding vol.Entries in vol's range. It
// returns a *fsimage.BadNamesError listing every path exFAT cannot hold and
// a *fsimage.NoSpaceError when the content does not fit.
func Build(vol fsimage.Volume) (*fsimage.Layout, error) {
	g, err := newGeometry(vol)
	if err != nil {
		return nil, err
	}
	label, err := CheckLabel(vol.Label)
	if err != nil {
		return nil, err
	}
	up := theUpcase()
	t, err := buildTree(vol.Entries, up, maxDirBytes)
	if err != nil {
		return nil, err
	}
	sys, err := allocate(g, t, up)
	if err != nil {
		return nil, err
	}
	now := vol.Now
	if now.IsZero() {
		now = time.Now()
	}
	b := &builder{vol: vol, g: g, t: t, up: up, sys: sys, label: label, now: now}
	return b.layout(), nil
}

// newGeometry validates vol's sizes and computes where the FAT and cluster
// heap go and how many clusters there are.
func newGeometry(vol fsimage.Volume) (*geometry, error) {
	ss := vol.SectorSize
	if ss < 512 || ss > 4096 || ss&(ss-1) != 0 {
		return nil, fmt.Errorf("exfat: sector size %d is not one of 512, 1024, 2048, 4096", ss)
	}
	if vol.Offset < 0 || vol.Offset%int64(ss) != 0 {
		return nil, fmt.Errorf("exfat: volume offset %d is not a multiple of the %d-byte sector", vol.Offset, ss)
	}
	if vol.Size < minVolumeBytes {
		return nil, fmt.Errorf("exfat: volume of %d bytes is smaller than exFAT's minimum of 1 MiB", vol.Size)
	}
	cs := vol.ClusterSize
	if cs == 0 {
		cs = clusterSize(vol.Size, ss)
	}
	if cs < ss || cs > maxClusterSize || cs&(cs-1) != 0 {
		return nil, fmt.Errorf("exfat: cluster size %d is invalid: it must be a power of two from the sector size (%d) to 32 MiB", cs, ss)
	}
	g := &geometry{
		sectorSize:  ss,
		clusterSize: cs,
		partOffset:  uint64(vol.Offset / int64(ss)),
		volSectors:  uint64(vol.Size / int64(ss)),
		serial:      vol.Serial,
	}
	align := uint64(cs)
	if vol.Size >= smallVolume {
		align = max(align, heapAlign)
	}
	align /= uint64(ss)
	spc := uint64(cs / ss)
	fatOffset := roundUp(2*bootSectors, align)
	var fatLength, heap, cc uint64
	for {
		heap = roundUp(fatOffset+fatLength, align)
		if heap+spc > g.volSectors {
			return nil, fmt.Errorf("exfat: volume of %d bytes is too small for %d-byte clusters", vol.Size, cs)
		}
		cc = min((g.volSectors-heap)/spc, maxClusterCount)
		need := roundUp(((cc+2)*4+uint64(ss)-1)/uint64(ss), spc)
		if need <= fatLength {
			break
		}
		fatLength = need
	}
	g.fatOffset, g.fatLength, g.heapOffset, g.clusterCount = uint32(fatOffset), uint32(fatLength), uint32(heap), uint32(cc)
	return g, nil
}

// roundUp rounds n up to a multiple of m.
func roundUp(n, m uint64) uint64 { return (n + m - 1) / m * m }

// node is a file or directory in the tree being laid out.
type node struct {
	e        *fsimage.Entry // nil for the root
	name     []uint16
	children []*node
	first    uint32 // first cluster; 0 for empty files
	clusters uint64
	dirBytes int // directories: bytes of entries
}

// tree is the content, arranged by directory.
type tree struct {
	root  *node
	dirs  []*node // the root, then every directory in manifest order
	files []*node // non-empty files in manifest order
}

// buildTree arranges entries into directories, checking every name and
// that no directory needs more than maxDir bytes of entries.
func buildTree(entries []*fsimage.Entry, up *upcase, maxDir int) (*tree, error) {
	root := &node{}
	t := &tree{root: root, dirs: []*node{root}}
	byPath := map[string]*node{"": root}
	keys := map[*node]map[string]*node{}
	var bad []fsimage.BadName
	reported := map[*node]bool{}
	for _, e := range entries {
		dir, base := "", e.Path
		if i := strings.LastIndexByte(e.Path, '/'); i >= 0 {
			dir, base = e.Path[:i], e.Path[i+1:]
		}
		parent := byPath[dir]
		if parent == nil {
			return nil, fmt.Errorf("exfat: %s: its directory %q is not listed before it", e.Path, dir)
		}
		if !e.Dir && e.Size < 0 {
			return nil, fmt.Errorf("exfat: %s: negative size %d", e.Path, e.Size)
		}
		if !e.Dir && e.Size > maxFileSize {
			bad = append(bad, fsimage.BadName{Path: e.Path, Reason: fmt.Sprintf("file is %d bytes; exFAT holds files up to %d bytes", e.Size, int64(maxFileSize))})
		}
		n := &node{e: e}
		units, reason := checkName(base)
		if reason == "" {
			reason = fsimage.WindowsNameProblem(base) // a label may be CON; a file may not
		}
		if reason != "" {
			bad = append(bad, fsimage.BadName{Path: e.Path, Reason: reason})
			units = make([]uint16, maxNameUnits) // keep sizes plausible
		} else {
			if keys[parent] == nil {
				keys[parent] = map[string]*node{}
			}
			key := upcaseKey(up, units)
			if other := keys[parent][key]; other != nil {
				if !reported[other] {
					reported[other] = true
					bad = append(bad, fsimage.BadName{Path: other.e.Path, Reason: fmt.Sprintf("same name ignoring case as %q", e.Path)})
				}
				bad = append(bad, fsimage.BadName{Path: e.Path, Reason: fmt.Sprintf("same name ignoring case as %q", other.e.Path)})
			} else {
				keys[parent][key] = n
			}
		}
		n.name = units
		parent.children = append(parent.children, n)
		if e.Generated {
			// Room for the longest name, so that a folder's size does not
			// depend on the name a stick's generated file gets.
			parent.dirBytes += setEntries(maxNameUnits) * entrySize
		} else {
			parent.dirBytes += setEntries(len(units)) * entrySize
		}
		switch {
		case e.Dir:
			byPath[e.Path] = n
			t.dirs = append(t.dirs, n)
		case e.Size > 0:
			t.files = append(t.files, n)
		}
	}
	root.dirBytes += 3 * entrySize // volume label, allocation bitmap, up-case table
	for _, d := range t.dirs {
		if d.dirBytes > maxDir {
			path := "/"
			if d.e != nil {
				path = d.e.Path
			}
			bad = append(bad, fsimage.BadName{Path: path, Reason: fmt.Sprintf("directory needs %d bytes of entries; exFAT allows %d", d.dirBytes, maxDir)})
		}
	}
	if len(bad) > 0 {
		sort.SliceStable(bad, func(i, j int) bool { return bad[i].Path < bad[j].Path })
		return nil, &fsimage.BadNamesError{FS: "exFAT", Names: bad}
	}
	return t, nil
}

// system is where the allocation bitmap and up-case table live.
type system struct {
	bitmapFirst, bitmapClusters uint32
	upcaseFirst, upcaseClusters uint32
	metaEnd                     uint32 // first cluster after the last directory
	used                        uint64 // clusters in use, from cluster 2
}

// allocate assigns clusters: bitmap, up-case table, directories, files.
func allocate(g *geometry, t *tree, up *upcase) (*system, error) {
	cs := uint64(g.clusterSize)
	next := uint64(2)
	take := func(n uint64) uint32 {
		c := next
		next += n
		if next > uint64(g.clusterCount)+2 {
			return 0 // overflow; reported below
		}
		return uint32(c)
	}
	s := &system{}
	bm := ((uint64(g.clusterCount)+7)/8 + cs - 1) / cs
	s.bitmapClusters = uint32(bm)
	s.bitmapFirst = take(bm)
	uc := (uint64(len(up.raw)) + cs - 1) / cs
	s.upcaseClusters = uint32(uc)
	s.upcaseFirst = take(uc)
	for _, generated := range []bool{false, true} {
		// Generated folders after the shared ones, which then do not move
		// between sticks.
		for _, d := range t.dirs {
			if d.e == nil && !generated || d.e != nil && d.e.Generated == generated {
				d.clusters = max(1, (uint64(d.dirBytes)+cs-1)/cs)
				d.first = take(d.clusters)
			}
		}
	}
	g.rootCluster = t.root.first
	s.metaEnd = uint32(min(next, uint64(g.clusterCount)+2))
	for _, generated := range []bool{false, true} {
		// Generated files last: the shared content's runs do not move
		// between sticks.
		for _, f := range t.files {
			if f.e.Generated == generated {
				f.clusters = (uint64(f.e.Size) + cs - 1) / cs
				f.first = take(f.clusters)
			}
		}
	}
	s.used = next - 2
	if s.used > uint64(g.clusterCount) {
		heapBytes := int64(g.heapOffset) * int64(g.sectorSize)
		return nil, &fsimage.NoSpaceError{
			What:      "exFAT volume",
			Needed:    heapBytes + int64(s.used)*int64(cs),
			Available: int64(g.volSectors) * int64(g.sectorSize),
		}
	}
	g.percentInUse = uint8(s.used * 100 / uint64(g.clusterCount))
	return s, nil
}

// builder turns an allocated tree into extents.
type builder struct {
	vol   fsimage.Volume
	g     *geometry
	t     *tree
	up    *upcase
	sys   *system
	label []uint16
	now   time.Time
	out   []fsimage.Extent
}

func (b *builder) add(off int64, kind fsimage.ExtentKind, data []byte, length int64, what string) {
	if length <= 0 {
		return
	}
	b.out = append(b.out, fsimage.Extent{Offset: b.vol.Offset + off, Length: length, Kind: kind, Data: data, What: what})
}

// layout produces the extents in device order and the file runs.
func (b *builder) layout() *fsimage.Layout {
	g := b.g
	b.out = make([]fsimage.Extent, 0, 8+2*len(b.t.dirs)+len(b.t.files))
	boot := bootRegion(g)
	b.add(0, fsimage.Bytes, boot, int64(len(boot)), "exfat boot region")
	backup := append([]byte(nil), boot...) // its own copy: callers may patch one
	b.add(int64(len(boot)), fsimage.Bytes, backup, int64(len(backup)), "exfat backup boot region")
	b.fat()
	b.bitmap()
	b.upcase()
	for _, d := range b.t.dirs {
		b.dir(d)
	}
	files := make([]fsimage.FileRun, 0, len(b.t.files))
	for _, f := range b.t.files {
		off := g.clusterOffset(f.first)
		b.out = append(b.out, fsimage.Extent{Offset: b.vol.Offset + off, Length: f.e.Size, Kind: fsimage.FileData, Entry: f.e, What: f.e.Path})
		files = append(files, fsimage.FileRun{Entry: f.e, Offset: b.vol.Offset + off})
	}
	return &fsimage.Layout{Extents: b.out, Files: files, Label: b.vol.Label}
}

// upcase writes the up-case table, padded with zeros to whole sectors, and
// zeros for the rest of its clusters.
func (b *builder) upcase() {
	ss := uint64(b.g.sectorSize)
	tab := make([]byte, roundUp(uint64(len(b.up.raw)), ss))
	copy(tab, b.up.raw)
	off := b.g.clusterOffset(b.sys.upcaseFirst)
	total := int64(b.sys.upcaseClusters) * int64(b.g.clusterSize)
	b.add(off, fsimage.Bytes, tab, int64(len(tab)), "exfat up-case table")
	b.add(off+int64(len(tab)), fsimage.Zero, nil, total-int64(len(tab)), "exfat up-case table padding")
}

// fat writes the FAT's used part (media entries and the chains of the
// system files and directories) and zeros for the rest.
func (b *builder) fat() {
	g, ss := b.g, int64(b.g.sectorSize)
	n := int64(b.sys.metaEnd) * 4
	n = (n + ss - 1) / ss * ss
	fat := make([]byte, n)
	le := binary.LittleEndian
	le.PutUint32(fat[0:], fatMedia)
	le.PutUint32(fat[4:], fatEndOfChain)
	chain := func(first uint32, count uint64) {
		for i := uint64(0); i < count; i++ {
			c := uint64(first) + i
			v := uint32(c + 1)
			if i == count-1 {
				v = fatEndOfChain
			}
			le.PutUint32(fat[c*4:], v)
		}
	}
	chain(b.sys.bitmapFirst, uint64(b.sys.bitmapClusters))
	chain(b.sys.upcaseFirst, uint64(b.sys.upcaseClusters))
	for _, d := range b.t.dirs {
		chain(d.first, d.clusters)
	}
	start := int64(g.fatOffset) * ss
	total := int64(g.fatLength) * ss
	b.add(start, fsimage.Bytes, fat, n, "exfat FAT")
	b.add(start+n, fsimage.Zero, nil, total-n, "exfat FAT free part")
}

// bitmap writes the allocation bitmap: every cluster up to the last file's
// is in use, the rest are free.
func (b *builder) bitmap() {
	g, ss := b.g, int64(b.g.sectorSize)
	total := int64(b.sys.bitmapClusters) * int64(g.clusterSize)
	n := int64((b.sys.used + 7) / 8)
	n = min((n+ss-1)/ss*ss, total)
	bm := make([]byte, n)
	for i := uint64(0); i < b.sys.used; i++ {
		bm[i/8] |= 1 << (i % 8)
	}
	start := g.clusterOffset(b.sys.bitmapFirst)
	b.add(start, fsimage.Bytes, bm, n, "exfat allocation bitmap")
	b.add(start+n, fsimage.Zero, nil, total-n, "exfat allocation bitmap free part")
}

// dir writes directory d's entries, zero-padded to a whole sector, and
// zeros for the rest of its clusters (a zero entry type marks the end of
// the directory). Keeping the padding a Zero extent saves memory with large
// clusters: 1,000 directories at 128 KiB would otherwise hold 128 MB.
func (b *builder) dir(d *node) {
	buf := make([]byte, 0, roundUp(uint64(d.dirBytes), uint64(b.g.sectorSize)))
	path := "/"
	if d == b.t.root {
		bmLen := (uint64(b.g.clusterCount) + 7) / 8
		buf = appendRootEntries(buf, b.label, b.sys.bitmapFirst, bmLen, b.up, b.sys.upcaseFirst)
	} else {
		path = "/" + d.e.Path
	}
	for _, c := range d.children {
		f := &fileSet{name: c.name, dir: c.e.Dir, mtime: c.e.ModTime, firstCluster: c.first}
		if f.mtime.IsZero() {
			f.mtime = b.now
		}
		if c.e.Dir {
			f.dataLength = c.clusters * uint64(b.g.clusterSize)
		} else {
			f.dataLength = uint64(c.e.Size)
			f.noFatChain = c.e.Size > 0
		}
		buf = appendFileSet(buf, b.up, f)
	}
	buf = buf[:cap(buf)]
	off := b.g.clusterOffset(d.first)
	b.add(off, fsimage.Bytes, buf, int64(len(buf)), "exfat dir "+path)
	total := int64(d.clusters) * int64(b.g.clusterSize)
	b.add(off+int64(len(buf)), fsimage.Zero, nil, total-int64(len(buf)), "exfat dir "+path+" free entries")
}
