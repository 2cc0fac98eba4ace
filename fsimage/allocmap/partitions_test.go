package allocmap

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// headOnly reads a disk's first limit bytes and fails every read past
// them, as an image does while it is still being decompressed.
type headOnly struct {
	data  []byte
	limit int64
}

var errPastHead = errors.New("past the head")

func (h headOnly) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > h.limit {
		return 0, errPastHead
	}
	return bytes.NewReader(h.data).ReadAt(p, off)
}

// TestPartitionsReadsTheStartOnly: Partitions lists a GPT's partitions
// from its primary header and entries without reading the backup at the
// end of the disk (Read, which maps the backup, cannot do without it);
// with the primary damaged it reads the backup.
func TestPartitionsReadsTheStartOnly(t *testing.T) {
	testreq.Tools(t, "sgdisk")
	disk := gptDisk(t)
	head := headOnly{data: disk, limit: 1 << 20}
	table, parts, err := Partitions(head, int64(len(disk)), 0)
	want := []where{{1, 1 << 20, 16 << 20}, {2, 17 << 20, 32 << 20}}
	if err != nil || table != GPT || !cmp.Equal(want, wheres(&Map{Partitions: parts})) {
		t.Errorf("Partitions(GPT, first MiB only) = %s, %v, %v; want gpt, %v", table, wheres(&Map{Partitions: parts}), err, want)
	}
	if _, err := Read(head, int64(len(disk)), Options{}); !errors.Is(err, errPastHead) {
		t.Errorf("Read(GPT, first MiB only) error = %v, want it to read past the first MiB", err)
	}
	disk[512+40] ^= 0xFF // the primary header fails its CRC
	if _, _, err := Partitions(head, int64(len(disk)), 0); !errors.Is(err, errPastHead) {
		t.Errorf("Partitions(damaged primary, first MiB only) error = %v, want the backup read", err)
	}
	_, parts, err = Partitions(bytes.NewReader(disk), int64(len(disk)), 0)
	if err != nil || !cmp.Equal(want, wheres(&Map{Partitions: parts})) {
		t.Errorf("Partitions(damaged primary) = %v, %v; want %v from the backup", wheres(&Map{Partitions: parts}), err, want)
	}
}

// TestDetect names each partition's filesystem by its signature, and a
// FAT boot sector whose counts do not add up as not understood, with the
// reason.
func TestDetect(t *testing.T) {
	testreq.Tools(t, "sfdisk", "mkfs.fat", "mke2fs")
	dir := t.TempDir()
	img := looptest.Sparse(t, dir, 64<<20)
	sfdisk(t, img, "label: dos\nstart=2048, size=40960, type=c\nstart=43008, size=40960, type=83\nstart=83968, size=8192, type=83\n")
	fat := looptest.Sparse(t, dir, 20<<20)
	run(t, "mkfs.fat", "-F", "16", fat)
	ext := looptest.Sparse(t, dir, 20<<20)
	run(t, "mke2fs", "-q", "-F", "-t", "ext4", ext)
	imagetest.Place(t, img, fat, 2048*512)
	imagetest.Place(t, img, ext, 43008*512)
	disk := readFile(t, img)
	size := int64(len(disk))
	for _, c := range []struct {
		off  int64
		want string
	}{{2048 * 512, "fat16 <nil>"}, {43008 * 512, "ext4 <nil>"}, {83968 * 512, "unknown <nil>"}} {
		fs, err := Detect(bytes.NewReader(disk), size, c.off, 20<<20)
		if got := fmt.Sprint(fs, " ", err); got != c.want {
			t.Errorf("Detect(at %d) = %s, want %s", c.off, got, c.want)
		}
	}
	disk[2048*512+16] = 40 // 40 FATs
	fs, err := Detect(bytes.NewReader(disk), size, 2048*512, 20<<20)
	var nu *NotUnderstoodError
	if !errors.As(err, &nu) || fs != "vfat" || !strings.Contains(nu.Reason, "40 FATs") {
		t.Errorf("Detect(40 FATs) = %s, %v; want vfat not understood, naming the 40 FATs", fs, err)
	}
}
