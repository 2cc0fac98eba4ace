package allocmap

// ext2/3/4, read from the kernel's Documentation/filesystems/ext4 (the
// superblock, group descriptors, flex_bg, meta_bg, sparse_super2 and the
// uninit_bg/metadata_csum checksums) and e2fsprogs' lib/ext2fs
// (ext2fs_super_and_bgd_loc2, ext2fs_descriptor_block_loc2,
// ext2fs_bg_has_super): where each group's superblock and descriptor
// copies lie.

import (
	"encoding/binary"

	"github.com/flashpipe/flashpipe/fsimage"
)

// Feature flags (s_feature_compat, _incompat, _ro_compat) that matter here.
const (
	extCompatJournal      = 0x4
	extCompatSparseSuper2 = 0x200

	extIncompatRecover    = 0x4
	extIncompatJournalDev = 0x8
	extIncompatMetaBG     = 0x10
	extIncompat64Bit      = 0x80
	extIncompatCsumSeed   = 0x2000

	extROSparseSuper  = 0x1
	extROGdtCsum      = 0x10
	extROBigalloc     = 0x200
	extROMetadataCsum = 0x400

	// Every feature whose meaning for block allocation is known: block
	// bitmaps say what is used whatever else they change. Any other bit
	// maps the volume whole.
	extKnownCompat   = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x200 | 0x400 | 0x800 | 0x1000
	extKnownIncompat = 0x2 | 0x4 | 0x8 | 0x10 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x1000 | 0x2000 |
		0x4000 | 0x8000 | 0x10000 | 0x20000
	extKnownRO = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x100 | 0x200 | 0x400 | 0x1000 | 0x2000 |
		0x4000 | 0x8000 | 0x10000
	// What ext3 has; anything beyond makes it ext4 (as blkid decides).
	extExt3Incompat = 0x2 | 0x4 | 0x10
	extExt3RO       = 0x1 | 0x2 | 0x4
)

// Block group flags.
const (
	extBlockUninit = 0x2
)

const (
	// extMaxGroups bounds the groups Read holds in memory: 16 TiB of 4 KiB
	// blocks has 131072 groups; a hostile superblock claims far more.
	extMaxGroups  = 1 << 21
	extMagic      = 0xEF53
	extSuperOff   = 1024
	extStateValid = 0x1
	extStateError = 0x2
)

// extName returns ext2, ext3 or ext4 when the volume's head holds an ext
// superblock.
func extName(head []byte) (FS, bool) {
	if len(head) < extSuperOff+1024 {
		return "", false
	}
	sb := head[extSuperOff : extSuperOff+1024]
	if le16(sb, 0x38) != extMagic {
		return "", false
	}
	compat, incompat, ro := le32(sb, 0x5C), le32(sb, 0x60), le32(sb, 0x64)
	switch {
	case incompat&^extExt3Incompat != 0 || ro&^extExt3RO != 0:
		return Ext4, true
	case compat&extCompatJournal != 0:
		return Ext3, true
	}
	return Ext2, true
}

// extVol is an ext2/3/4 volume's geometry, from its superblock.
type extVol struct {
	bs          int64 // block size
	blocks      int64 // blocks count
	firstData   int64 // first data block
	bpg         int64 // blocks per group
	ipg         int64 // inodes per group
	inodeSize   int64
	groups      int64
	descSize    int64
	descBlocks  int64
	reservedGDT int64
	firstMetaBG int64
	backupBGs   [2]int64

	compat, incompat, ro uint32
	uuid                 []byte
	seed                 uint32 // metadata_csum seed
}

// parseExt reads and checks the superblock sb of a volume of size bytes.
func parseExt(sb []byte, size int64) (*extVol, error) {
	x := &extVol{compat: le32(sb, 0x5C), incompat: le32(sb, 0x60), ro: le32(sb, 0x64), uuid: sb[0x68:0x78]}
	if err := x.checkFeatures(sb); err != nil {
		return nil, err
	}
	logBS := le32(sb, 0x18)
	if logBS > 6 || le32(sb, 0x1C) != logBS {
		return nil, bad("the superblock claims 2^%d KiB blocks in 2^%d KiB clusters", logBS, le32(sb, 0x1C))
	}
	x.bs = 1024 << logBS
	x.blocks = int64(le32(sb, 0x4))
	if x.incompat&extIncompat64Bit != 0 {
		x.blocks |= int64(min(le32(sb, 0x150), 1<<20)) << 32
	}
	x.firstData, x.bpg, x.ipg = int64(le32(sb, 0x14)), int64(le32(sb, 0x20)), int64(le32(sb, 0x28))
	x.inodeSize, x.descSize = 128, 32
	if le32(sb, 0x4C) >= 1 {
		x.inodeSize = int64(le16(sb, 0x58))
	}
	if x.incompat&extIncompat64Bit != 0 {
		x.descSize = int64(le16(sb, 0xFE))
	}
	x.reservedGDT, x.firstMetaBG = int64(le16(sb, 0xCE)), int64(le32(sb, 0x104))
	x.backupBGs = [2]int64{int64(le32(sb, 0x24C)), int64(le32(sb, 0x250))}
	if err := x.checkGeometry(sb, size); err != nil {
		return nil, err
	}
	x.seed = crc32c(^uint32(0), x.uuid)
	if x.incompat&extIncompatCsumSeed != 0 {
		x.seed = le32(sb, 0x270)
	}
	return x, nil
}

// checkFeatures refuses features that change what the block bitmaps mean
// or say the bitmaps cannot be trusted as they are.
func (x *extVol) checkFeatures(sb []byte) error {
	state := le16(sb, 0x3A)
	switch {
	case x.compat&^extKnownCompat != 0 || x.incompat&^extKnownIncompat != 0 || x.ro&^extKnownRO != 0:
		return bad("unknown features (compat %#x, incompat %#x, ro_compat %#x)",
			x.compat&^extKnownCompat, x.incompat&^extKnownIncompat, x.ro&^extKnownRO)
	case x.incompat&extIncompatJournalDev != 0:
		return bad("this is an external journal device, not a filesystem")
	case x.ro&extROBigalloc != 0:
		return bad("bigalloc (cluster bitmaps) is not read by flashpipe")
	case x.incompat&extIncompatRecover != 0:
		return bad("its journal needs recovery: it was not cleanly unmounted, and blocks the journal will write may be free in the bitmaps (run e2fsck on the master to map only its used blocks)")
	case state&extStateError != 0:
		return bad("the superblock records errors (run e2fsck on the master)")
	case state&extStateValid == 0:
		return bad("it was not cleanly unmounted (run e2fsck on the master to map only its used blocks)")
	case x.ro&extROMetadataCsum != 0 && crc32c(^uint32(0), sb[:0x3FC]) != le32(sb, 0x3FC):
		return bad("the superblock fails its checksum")
	}
	return nil
}

// checkGeometry checks the superblock's counts against each other and the
// volume's size, and derives the group and descriptor counts.
func (x *extVol) checkGeometry(sb []byte, size int64) error {
	wantFirst := int64(0)
	if x.bs == 1024 {
		wantFirst = 1
	}
	switch {
	case x.firstData != wantFirst:
		return bad("the first data block is %d with %d-byte blocks", x.firstData, x.bs)
	case x.blocks <= x.firstData || x.blocks > size/x.bs:
		return bad("the superblock claims %d blocks of %d bytes; the volume has %d bytes", x.blocks, x.bs, size)
	case x.bpg < 256 || x.bpg > 8*x.bs || x.bpg%8 != 0 || int64(le32(sb, 0x24)) != x.bpg:
		return bad("the superblock claims %d blocks per group with %d-byte blocks", x.bpg, x.bs)
	case x.ipg < 1 || x.ipg > 8*x.bs:
		return bad("the superblock claims %d inodes per group", x.ipg)
	case x.inodeSize < 128 || x.inodeSize > x.bs || x.inodeSize&(x.inodeSize-1) != 0:
		return bad("the superblock claims %d-byte inodes", x.inodeSize)
	case x.descSize < 32 || x.descSize > 1024 || x.descSize&(x.descSize-1) != 0 ||
		(x.incompat&extIncompat64Bit != 0 && x.descSize < 64):
		return bad("the superblock claims %d-byte group descriptors", x.descSize)
	case x.reservedGDT > x.bs/4:
		return bad("the superblock claims %d reserved GDT blocks", x.reservedGDT)
	}
	x.groups = (x.blocks - x.firstData + x.bpg - 1) / x.bpg
	x.descBlocks = (x.groups + x.dpb() - 1) / x.dpb()
	switch {
	case x.groups > extMaxGroups:
		return bad("the superblock claims %d groups, more than any filesystem flashpipe reads (%d)", x.groups, extMaxGroups)
	case int64(le32(sb, 0)) != x.groups*x.ipg:
		return bad("the superblock counts %d inodes, not %d groups of %d", le32(sb, 0), x.groups, x.ipg)
	case x.incompat&extIncompatMetaBG != 0 && x.firstMetaBG > x.descBlocks:
		return bad("the first meta_bg group (%d) is past the %d descriptor blocks", x.firstMetaBG, x.descBlocks)
	}
	return nil
}

// dpb is the number of group descriptors per block.
func (x *extVol) dpb() int64 { return x.bs / x.descSize }

// groupFirst is the first block of group g.
func (x *extVol) groupFirst(g int64) int64 { return x.firstData + g*x.bpg }

// groupLen is the number of blocks of group g (the last may be short).
func (x *extVol) groupLen(g int64) int64 { return min(x.bpg, x.blocks-x.groupFirst(g)) }

// hasSuper reports whether group g holds a superblock (and, outside
// meta_bg, a copy of the descriptors), as ext2fs_bg_has_super decides.
func (x *extVol) hasSuper(g int64) bool {
	switch {
	case g == 0:
		return true
	case x.compat&extCompatSparseSuper2 != 0:
		return g == x.backupBGs[0] || g == x.backupBGs[1]
	case g == 1 || x.ro&extROSparseSuper == 0:
		return true
	case g%2 == 0:
		return false
	}
	return isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7)
}

func isPowerOf(n, base int64) bool {
	p := base
	for p < n {
		p *= base
	}
	return p == n
}

func (x *extVol) metaBG() bool { return x.incompat&extIncompatMetaBG != 0 }

// descBlock returns the block of the i-th descriptor block (primary copy),
// as ext2fs_descriptor_block_loc2 does.
func (x *extVol) descBlock(i int64) int64 {
	if !x.metaBG() || i < x.firstMetaBG {
		return x.firstData + 1 + i
	}
	bg := x.dpb() * i
	if x.hasSuper(bg) {
		return x.groupFirst(bg) + 1
	}
	return x.groupFirst(bg)
}

// baseMeta adds the superblock and descriptor copies group g holds (as
// ext2fs_super_and_bgd_loc2 lays them out) to meta, as block ranges.
func (x *extVol) baseMeta(g int64, meta *runs) {
	first := x.groupFirst(g)
	super := x.hasSuper(g)
	if !x.metaBG() || g/x.dpb() < x.firstMetaBG {
		if super {
			old := x.descBlocks + x.reservedGDT
			if x.metaBG() {
				old = x.firstMetaBG
			}
			meta.add(first, 1+old)
		}
		return
	}
	if super {
		meta.add(first, 1)
	}
	if r := g % x.dpb(); r == 0 || r == 1 || r == x.dpb()-1 {
		if super {
			meta.add(first+1, 1)
		} else {
			meta.add(first, 1)
		}
	}
}

// extGroup is what a group descriptor says of its group.
type extGroup struct {
	blockBitmap, inodeBitmap, inodeTable int64
	flags                                uint32
	bitmapCsum                           uint32
}

// parseDesc decodes group descriptor d.
func (x *extVol) parseDesc(d []byte) extGroup {
	g := extGroup{blockBitmap: int64(le32(d, 0)), inodeBitmap: int64(le32(d, 4)), inodeTable: int64(le32(d, 8)),
		flags: le16(d, 0x12), bitmapCsum: le16(d, 0x18)}
	if x.incompat&extIncompat64Bit != 0 {
		g.blockBitmap |= int64(le32(d, 0x20)) << 32
		g.inodeBitmap |= int64(le32(d, 0x24)) << 32
		g.inodeTable |= int64(le32(d, 0x28)) << 32
		g.bitmapCsum |= le16(d, 0x38) << 16
	}
	return g
}

// csumGroups reports whether group descriptors carry checksums, which is
// what makes BLOCK_UNINIT trustworthy (the kernel's
// ext4_has_group_desc_csum).
func (x *extVol) csumGroups() bool { return x.ro&(extROGdtCsum|extROMetadataCsum) != 0 }

// descChecksum computes group g's descriptor checksum (the kernel's
// ext4_group_desc_csum): crc32c with metadata_csum, else crc16 with
// uninit_bg (gdt_csum).
func (x *extVol) descChecksum(g int64, d []byte) uint32 {
	var le [4]byte
	binary.LittleEndian.PutUint32(le[:], uint32(g))
	rest := d[0x20:]
	if x.incompat&extIncompat64Bit == 0 {
		rest = nil
	}
	if x.ro&extROMetadataCsum != 0 {
		c := crc32c(x.seed, le[:])
		c = crc32c(c, d[:0x1E])
		c = crc32c(c, []byte{0, 0})
		return crc32c(c, rest) & 0xFFFF
	}
	c := crc16(0xFFFF, x.uuid)
	c = crc16(c, le[:])
	c = crc16(c, d[:0x1E])
	return uint32(crc16(c, rest))
}

// mapExt maps an ext2/3/4 volume: the boot block and superblock, every
// group's superblock and descriptor copies, block and inode bitmaps and
// inode table, and every block the block bitmaps mark used. A group whose
// bitmap is uninitialised (BLOCK_UNINIT, trusted only where descriptors
// have checksums) uses exactly its metadata. The journal is a file: its
// blocks are in the bitmaps.
func mapExt(v *volume, rs *runs) (FS, error) {
	head, err := v.read(0, extSuperOff+1024)
	if err != nil {
		return "", err
	}
	name, _ := extName(head)
	x, err := parseExt(head[extSuperOff:], v.size)
	if err != nil {
		return name, err
	}
	groups, err := x.readDescs(v)
	if err != nil {
		return name, err
	}
	meta, err := x.metadata(groups)
	if err != nil {
		return name, err
	}
	rs.add(v.off, max(2048, x.bs))
	for _, m := range meta {
		rs.add(v.off+m.Offset*x.bs, m.Length*x.bs)
	}
	return name, x.mapBitmaps(v, rs, groups, meta)
}

// readDescs reads every group descriptor and checks its checksum.
func (x *extVol) readDescs(v *volume) ([]extGroup, error) {
	gs := make([]extGroup, x.groups)
	var blk []byte
	cached := int64(-1)
	for g := range x.groups {
		i := g / x.dpb()
		if i != cached {
			var err error
			if blk, err = v.read(x.descBlock(i)*x.bs, int(x.bs)); err != nil {
				return nil, err
			}
			cached = i
		}
		d := blk[g%x.dpb()*x.descSize:][:x.descSize]
		if x.csumGroups() && x.descChecksum(g, d) != le16(d, 0x1E) {
			return nil, bad("group %d's descriptor fails its checksum", g)
		}
		gs[g] = x.parseDesc(d)
	}
	return gs, nil
}

// metadata returns every group's fixed metadata as sorted, merged block
// ranges, checking that it lies inside the filesystem.
func (x *extVol) metadata(groups []extGroup) ([]blockRun, error) {
	var meta runs
	itb := (x.ipg*x.inodeSize + x.bs - 1) / x.bs
	for g, gd := range groups {
		x.baseMeta(int64(g), &meta)
		for _, r := range []blockRun{{Offset: gd.blockBitmap, Length: 1}, {Offset: gd.inodeBitmap, Length: 1}, {Offset: gd.inodeTable, Length: itb}} {
			if r.Offset < x.firstData || r.Offset >= x.blocks || r.Length > x.blocks-r.Offset {
				return nil, bad("group %d's bitmaps or inode table (blocks %d+%d) lie outside the filesystem's %d blocks",
					g, r.Offset, r.Length, x.blocks)
			}
			meta.add(r.Offset, r.Length)
		}
	}
	out := normalize(meta)
	if n := len(out); n > 0 && out[n-1].Offset+out[n-1].Length > x.blocks {
		return nil, bad("the superblock and descriptor copies reach past the filesystem's %d blocks", x.blocks)
	}
	return out, nil
}

// blockRun is a range of blocks (Offset and Length count blocks).
type blockRun = fsimage.Region

// mapBitmaps maps the blocks each initialised group's block bitmap marks
// used, checking the bitmap's checksum (metadata_csum) and that it marks
// every metadata block in its group used: a bitmap that does not is not
// trusted.
func (x *extVol) mapBitmaps(v *volume, rs *runs, groups []extGroup, meta []blockRun) error {
	mi := 0
	for g, gd := range groups {
		first, n := x.groupFirst(int64(g)), x.groupLen(int64(g))
		if gd.flags&extBlockUninit != 0 && x.csumGroups() {
			continue
		}
		bm, err := v.read(gd.blockBitmap*x.bs, int(x.bs))
		if err != nil {
			return err
		}
		if x.ro&extROMetadataCsum != 0 {
			sum := crc32c(x.seed, bm[:x.bpg/8])
			if x.incompat&extIncompat64Bit == 0 {
				sum &= 0xFFFF
			}
			if sum != gd.bitmapCsum {
				return bad("group %d's block bitmap fails its checksum", g)
			}
		}
		addBits(bm, n, func(i, k int64) { rs.add(v.off+(first+i)*x.bs, k*x.bs) })
		for mi < len(meta) && meta[mi].Offset+meta[mi].Length <= first {
			mi++
		}
		for _, m := range meta[mi:] {
			if m.Offset >= first+n {
				break
			}
			for b := max(m.Offset, first); b < min(m.Offset+m.Length, first+n); b++ {
				if bm[(b-first)/8]&(1<<((b-first)%8)) == 0 {
					return bad("group %d's block bitmap marks metadata block %d free", g, b)
				}
			}
		}
	}
	return nil
}

// addBits calls add(i, k) for every run of k set bits from bit i among the
// first n bits of bm (least significant bit first).
func addBits(bm []byte, n int64, add func(i, k int64)) {
	start := int64(-1)
	for i := int64(0); i < n; {
		if i%8 == 0 && i+8 <= n && (bm[i/8] == 0 || bm[i/8] == 0xFF) {
			set := bm[i/8] == 0xFF
			if set && start < 0 {
				start = i
			} else if !set && start >= 0 {
				add(start, i-start)
				start = -1
			}
			i += 8
			continue
		}
		set := bm[i/8]&(1<<(i%8)) != 0
		if set && start < 0 {
			start = i
		} else if !set && start >= 0 {
			add(start, i-start)
			start = -1
		}
		i++
	}
	if start >= 0 {
		add(start, n-start)
	}
}
