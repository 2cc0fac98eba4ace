package relabel

// ext2/3/4, from the kernel's Documentation/filesystems/ext4 (the
// superblock's fields and its crc32c) and e2fsprogs (tune2fs -L, and
// ext2fs_flush and ext2fs_bg_has_super: which groups hold a backup
// superblock and what is written there).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"github.com/flashpipe/flashpipe/fsimage/ext4"
)

// Superblock fields and feature flags this file uses.
const (
	extSuperOff        = 1024
	extSuperSize       = 1024
	extMagic           = 0xEF53
	extLabelOff        = 0x78 // s_volume_name, 16 bytes
	extChecksumOff     = 0x3FC
	extCompatSparse2   = 0x200
	extIncompatRecover = 0x4
	extIncompatJDev    = 0x8
	extIncompat64Bit   = 0x80
	extROSparse        = 0x1
	extROMetadataCsum  = 0x400
	extStateValid      = 0x1
	// extMaxBackups bounds the backup superblocks Patch rewrites (each a
	// kilobyte in the plan): a filesystem without sparse_super has one in
	// every group.
	extMaxBackups = 1 << 14
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// extVol is what setting an ext label needs of the superblock.
type extVol struct {
	v         *volume
	bs        int64    // block size
	firstData int64    // first data block
	bpg       int64    // blocks per group
	sparse    bool     // sparse_super: backups in groups 1 and powers of 3, 5, 7
	sparse2   bool     // sparse_super2: backups in the two groups backupBGs names
	backupBGs [2]int64 // sparse_super2's groups
	csum      bool     // metadata_csum: the superblock carries a crc32c
	// backupGroups are the groups after the first that hold a backup
	// superblock.
	backupGroups []int64
}

// parseExt reads and checks the superblock of v.
func parseExt(v *volume) (*extVol, error) {
	sb, err := v.read(extSuperOff, extSuperSize)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	compat, incompat, ro := le.Uint32(sb[0x5C:]), le.Uint32(sb[0x60:]), le.Uint32(sb[0x64:])
	x := &extVol{v: v, firstData: int64(le.Uint32(sb[0x14:])), bpg: int64(le.Uint32(sb[0x20:])),
		sparse: ro&extROSparse != 0, sparse2: compat&extCompatSparse2 != 0, csum: ro&extROMetadataCsum != 0,
		backupBGs: [2]int64{int64(le.Uint32(sb[0x24C:])), int64(le.Uint32(sb[0x250:]))}}
	logBS := le.Uint32(sb[0x18:])
	blocks := int64(le.Uint32(sb[0x4:]))
	if incompat&extIncompat64Bit != 0 {
		blocks |= int64(min(le.Uint32(sb[0x150:]), 1<<20)) << 32
	}
	switch {
	case le.Uint16(sb[0x38:]) != extMagic:
		return nil, v.errorf("no ext superblock")
	case le.Uint32(sb[0x4C:]) < 1:
		return nil, v.errorf("an ext2 filesystem of revision 0 has no volume label field")
	case x.csum && sb[0x175] != 1:
		return nil, v.errorf("the ext superblock names checksum type %d; only crc32c (1) is known", sb[0x175])
	case x.csum && extChecksum(sb) != le.Uint32(sb[extChecksumOff:]):
		return nil, v.errorf("the ext superblock fails its checksum")
	case incompat&extIncompatJDev != 0:
		return nil, v.errorf("this is an external ext journal, not a filesystem")
	case incompat&extIncompatRecover != 0:
		return nil, v.errorf("the ext filesystem's journal needs recovery (it was not cleanly unmounted), and replaying it may bring back the old superblock and label: run e2fsck on the image first")
	case logBS > 6:
		return nil, v.errorf("the ext superblock claims 2^%d KiB blocks", logBS)
	}
	x.bs = 1024 << logBS
	if err := x.checkGeometry(blocks); err != nil {
		return nil, err
	}
	return x, nil
}

// checkGeometry checks the counts that place the backup superblocks.
func (x *extVol) checkGeometry(blocks int64) error {
	wantFirst := int64(0)
	if x.bs == 1024 {
		wantFirst = 1
	}
	switch {
	case x.firstData != wantFirst:
		return x.v.errorf("the ext superblock's first data block is %d with %d-byte blocks", x.firstData, x.bs)
	case blocks <= x.firstData || blocks > x.v.size/x.bs:
		return x.v.errorf("the ext superblock claims %d blocks of %d bytes; the partition has %d bytes", blocks, x.bs, x.v.size)
	case x.bpg < 8 || x.bpg%8 != 0:
		return x.v.errorf("the ext superblock claims %d blocks per group", x.bpg)
	}
	groups := (blocks - x.firstData + x.bpg - 1) / x.bpg
	var err error
	x.backupGroups, err = backupGroups(groups, x.sparse, x.sparse2, x.backupBGs)
	if err != nil {
		return x.v.errorf("the ext filesystem %v", err)
	}
	return nil
}

// backupGroups returns the groups after the first, of groups, that hold a
// superblock, as ext2fs_bg_has_super decides: under sparse_super2 the two
// it names; under sparse_super group 1 and the powers of 3, 5 and 7;
// without either, every group.
func backupGroups(groups int64, sparse, sparse2 bool, named [2]int64) ([]int64, error) {
	var gs []int64
	switch {
	case sparse2:
		for _, g := range named {
			if g > 0 && g < groups && !slices.Contains(gs, g) {
				gs = append(gs, g)
			}
		}
	case !sparse:
		if groups-1 > extMaxBackups {
			return nil, fmt.Errorf("has %d backup superblocks, more than flashpipe rewrites (%d)", groups-1, extMaxBackups)
		}
		for g := int64(1); g < groups; g++ {
			gs = append(gs, g)
		}
	default:
		if groups > 1 {
			gs = append(gs, 1)
		}
		for _, base := range []int64{3, 5, 7} {
			for p := base; p < groups; p *= base {
				gs = append(gs, p)
			}
		}
	}
	slices.Sort(gs)
	return gs, nil
}

// extChecksum is the superblock's crc32c, as the kernel computes it (seed
// ~0, no final inversion).
func extChecksum(sb []byte) uint32 {
	return ^crc32.Checksum(sb[:extChecksumOff], castagnoli)
}

// set writes label into the superblock and rewrites every backup
// superblock as ext2fs_flush writes it for tune2fs: the new superblock
// with its group number and the valid bit cleared.
func (x *extVol) set(p *Patcher, label string, _ time.Time) (string, error) {
	if err := ext4.CheckLabel(label); err != nil {
		return "", err
	}
	sb, err := p.Block(x.v.off+extSuperOff, extSuperSize, "ext superblock")
	if err != nil {
		return "", err
	}
	clear(sb[extLabelOff : extLabelOff+16])
	copy(sb[extLabelOff:], label)
	x.seal(sb)
	for _, g := range x.backupGroups {
		b := x.backup(sb, g)
		if err := p.Put(x.v.off+(x.firstData+g*x.bpg)*x.bs, b, fmt.Sprintf("ext backup superblock (group %d)", g)); err != nil {
			return "", err
		}
	}
	return label, nil
}

// backup returns the copy of sb that group g holds: s_block_group_nr (at
// most 65535, as e2fsprogs writes it) and the state without the valid
// bit.
func (x *extVol) backup(sb []byte, g int64) []byte {
	b := bytes.Clone(sb)
	le := binary.LittleEndian
	le.PutUint16(b[0x5A:], uint16(min(g, 0xFFFF)))
	le.PutUint16(b[0x3A:], le.Uint16(b[0x3A:])&^extStateValid)
	x.seal(b)
	return b
}

// seal sets a superblock's checksum under metadata_csum.
func (x *extVol) seal(sb []byte) {
	if x.csum {
		binary.LittleEndian.PutUint32(sb[extChecksumOff:], extChecksum(sb))
	}
}
