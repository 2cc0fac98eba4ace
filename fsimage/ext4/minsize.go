package ext4

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/flashpipe/flashpipe/fsimage"
)

// MinSize returns the smallest volume size, a whole number of MiB, whose
// empty ext4 filesystem (as Build makes it) has enough free blocks and
// inodes for entries. It runs mke2fs without content on sparse files, so it
// reads no file data and takes a fraction of a second per probe.
//
// The block count is computed, not measured: data blocks, directory blocks
// (with htree index and checksum tail), and one extent-tree block per 512
// MiB of a large file, plus 1 % and 64 blocks of margin.
func MinSize(entries []*fsimage.Entry, opts Options) (int64, error) {
	blocks, inodes := need(entries)
	tmp, err := os.MkdirTemp(opts.TempDir, "flashpipe-ext4-min-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	fits := func(mib int64) (bool, error) {
		free, freeInodes, err := probe(tmp, mib<<20, opts)
		if err != nil {
			return false, err
		}
		return free >= blocks && freeInodes >= inodes, nil
	}
	lo, hi := int64(1), max(int64(2), blocks*BlockSize>>20+2) // lo does not fit (or is the floor), hi is probed
	for {
		ok, err := fits(hi)
		if err != nil {
			return 0, err
		}
		if ok {
			break
		}
		if hi > 1<<24 { // 16 TiB
			return 0, &fsimage.NoSpaceError{What: "ext4 volume", Needed: blocks * BlockSize, Available: hi << 20}
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := fits(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi << 20, nil
}

// need returns the blocks and inodes the content takes on ext4.
func need(entries []*fsimage.Entry) (blocks, inodes int64) {
	dirBytes := map[string]int64{"": 24} // "." and ".."
	for _, e := range entries {
		inodes++
		if e.Dir {
			dirBytes[e.Path] += 24
		} else {
			blocks += (e.Size + BlockSize - 1) / BlockSize
			blocks += e.Size / (512 << 20) // extent tree index blocks
		}
		parent := path.Dir(e.Path)
		if parent == "." {
			parent = ""
		}
		dirBytes[parent] += (8 + int64(len(path.Base(e.Path))) + 3) / 4 * 4
	}
	for _, n := range dirBytes {
		b := (n + BlockSize - 12 - 1) / (BlockSize - 12) // 12-byte checksum tail
		if b > 1 {
			b += 1 + b/500 // htree index blocks
		}
		blocks += b
	}
	return blocks + blocks/100 + 64, inodes
}

// probe makes an empty filesystem of size bytes and returns its free
// blocks and free inodes.
func probe(dir string, size int64, opts Options) (free, inodes int64, err error) {
	img := filepath.Join(dir, "probe.img")
	os.Remove(img)
	f, err := os.Create(img)
	if err != nil {
		return 0, 0, err
	}
	err = f.Truncate(size)
	f.Close()
	if err != nil {
		return 0, 0, err
	}
	conf := filepath.Join(dir, "mke2fs.conf")
	if err := os.WriteFile(conf, []byte(mke2fsConf), 0o644); err != nil {
		return 0, 0, err
	}
	cmd := exec.Command(opts.tool("mke2fs"), "-q", "-F", "-t", "ext4", "-b", strconv.Itoa(BlockSize), "-m", "0",
		"-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", img)
	cmd.Env = append(os.Environ(), "MKE2FS_CONFIG="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("mke2fs (size probe, %d bytes): %v: %s", size, err, bytes.TrimSpace(out))
	}
	out, err := exec.Command(opts.tool("dumpe2fs"), "-h", img).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("dumpe2fs -h: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	free, inodes = -1, -1
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch {
		case err != nil:
		case k == "Free blocks":
			free = n
		case k == "Free inodes":
			inodes = n
		}
	}
	if free < 0 || inodes < 0 {
		return 0, 0, fmt.Errorf("dumpe2fs -h %s: no free block or inode count in its output", img)
	}
	return free, inodes, nil
}
