package allocmap

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
)

// A fuzz input is a sparse disk, so that a seed can hold a real volume of
// megabytes in a few kilobytes and mutations land in its structures:
//
//	byte 0      sector size option: 0 detect, 1 512, 2 4096, 3 2048
//	bytes 1-3   disk size in KiB (little endian), at least 1, at most 64 MiB
//	then        records: offset (4 bytes LE), length (2 bytes LE), data;
//	            the disk is zeros with each record's data written over it
const (
	fuzzMaxDisk    = 64 << 20
	fuzzMaxRecords = 4096
	fuzzPage       = 4096
)

// sparseDisk is the decoded disk: its size and its non-zero pages.
type sparseDisk struct {
	size  int64
	ss    int
	pages map[int64][]byte
}

func decodeDisk(data []byte) *sparseDisk {
	d := &sparseDisk{size: 1024, pages: map[int64][]byte{}}
	if len(data) < 4 {
		return d
	}
	d.ss = []int{0, 512, 4096, 2048}[data[0]&3]
	d.size = min(max(int64(data[1])|int64(data[2])<<8|int64(data[3])<<16, 1)<<10, fuzzMaxDisk)
	rest := data[4:]
	for n := 0; len(rest) >= 6 && n < fuzzMaxRecords; n++ {
		off, l := int64(binary.LittleEndian.Uint32(rest)), int(binary.LittleEndian.Uint16(rest[4:]))
		rest = rest[6:]
		b := rest[:min(l, len(rest))]
		rest = rest[len(b):]
		d.write(off, b)
	}
	return d
}

func (d *sparseDisk) write(off int64, b []byte) {
	for len(b) > 0 && off < d.size {
		page := off / fuzzPage * fuzzPage
		p, ok := d.pages[page]
		if !ok {
			p = make([]byte, fuzzPage)
			d.pages[page] = p
		}
		n := copy(p[off-page:], b)
		b, off = b[n:], off+int64(n)
	}
}

// ReadAt reads the disk; reads past its end fail as a device's would.
func (d *sparseDisk) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(b)) > d.size {
		return 0, fmt.Errorf("read of %d bytes at %d past the end of a %d-byte disk", len(b), off, d.size)
	}
	clear(b)
	for done := 0; done < len(b); {
		at := off + int64(done)
		page := at / fuzzPage * fuzzPage
		n := min(len(b)-done, int(page+fuzzPage-at))
		if p, ok := d.pages[page]; ok {
			copy(b[done:done+n], p[at-page:])
		}
		done += n
	}
	return len(b), nil
}

// encodeDisk is decodeDisk's inverse for a whole image: its runs of
// non-zero 16-byte chunks (zero runs shorter than 64 bytes kept inside).
func encodeDisk(img []byte, ss int) []byte {
	const chunk, gap = 16, 64
	opt := map[int]byte{0: 0, 512: 1, 4096: 2, 2048: 3}[ss]
	kib := len(img) >> 10
	out := []byte{opt, byte(kib), byte(kib >> 8), byte(kib >> 16)}
	for off := 0; off < len(img); {
		if isZero(img[off : off+chunk]) {
			off += chunk
			continue
		}
		end := off + chunk
		for end < len(img) && end-off < 0xFF00 {
			next := min(end+gap, len(img))
			if isZero(img[end:next]) {
				break
			}
			end += chunk
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(off))
		out = binary.LittleEndian.AppendUint16(out, uint16(end-off))
		out = append(out, img[off:end]...)
		off = end
	}
	return out
}

// FuzzRead feeds Read arbitrary disks. Read must not panic, must not fail
// (every read is inside the disk, so only a bounds check it forgot could
// make it read past the end), and must keep the Map's invariants. Seeds
// are real volumes and tables made by the tools (testdata/fuzz/FuzzRead,
// see TestFuzzSeeds).
func FuzzRead(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeDisk(make([]byte, 4096), 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := decodeDisk(data)
		m, err := Read(d, d.size, Options{SectorSize: d.ss})
		if err != nil {
			t.Fatalf("Read() error = %v", err)
		}
		checkMap(t, m)
	})
}

var updateSeeds = flag.Bool("update-seeds", false, "rebuild testdata/fuzz/FuzzRead with the tools")

// TestFuzzSeeds reads every seed of FuzzRead and checks that its volumes
// are the filesystems its name lists (in partition order), each
// understood: the seeds are real structures, not noise. With
// -update-seeds it first makes them again with the tools.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzRead")
	if *updateSeeds {
		makeSeeds(t, dir)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no seeds in %s (%v); make them with go test -run TestFuzzSeeds -update-seeds", dir, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data := readSeed(t, file)
			d := decodeDisk(data)
			m, err := Read(d, d.size, Options{SectorSize: d.ss})
			if err != nil {
				t.Fatal(err)
			}
			checkMap(t, m)
			var got []string
			for _, p := range m.Partitions {
				if p.Whole {
					t.Errorf("%s: mapped whole: %s", p.What, p.Reason)
				}
				got = append(got, string(p.FS))
			}
			if want := strings.Split(filepath.Base(file), "-")[1:]; !slices.Equal(got, want) {
				t.Errorf("filesystems = %v, want %v (from the seed's name)", got, want)
			}
		})
	}
}

// readSeed decodes a corpus file: "go test fuzz v1" and one []byte.
func readSeed(t testing.TB, file string) []byte {
	t.Helper()
	text := string(readFile(t, file))
	const head = "go test fuzz v1\n[]byte("
	if !strings.HasPrefix(text, head) || !strings.HasSuffix(text, ")\n") {
		t.Fatalf("%s is not a fuzz corpus file with one []byte", file)
	}
	var s string
	if _, err := fmt.Sscanf(strings.TrimSuffix(text[len(head):], ")\n"), "%q", &s); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return []byte(s)
}

// writeSeed writes img (read with sector size ss) as the corpus file name.
func writeSeed(t testing.TB, dir, name string, img []byte, ss int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "go test fuzz v1\n[]byte(%q)\n", encodeDisk(img, ss))
	writeFile(t, filepath.Join(dir, name), b.Bytes())
}

// makeSeeds makes the seed volumes and disks: small, with a few files,
// each filesystem Read understands, and both partition tables.
func makeSeeds(t testing.TB, dir string) {
	t.Helper()
	cont := content{keep: map[string]int{"boot/kernel.img": 1500, "cmdline.txt": 90, "a/b/c.txt": 300}}
	src := t.TempDir()
	cont.write(t, src, false)
	fat := func(size int64, args ...string) []byte {
		img := looptest.Sparse(t, t.TempDir(), size)
		run(t, "mkfs.fat", append(args, img)...)
		for _, f := range []string{"boot", "a", "cmdline.txt"} {
			run(t, "mcopy", "-s", "-i", img, filepath.Join(src, f), "::/")
		}
		return readFile(t, img)
	}
	ext := func(size int64, args ...string) []byte {
		img := looptest.Sparse(t, t.TempDir(), size)
		run(t, "mke2fs", append(append([]string{"-q", "-F", "-d", src}, args...), img)...)
		return readFile(t, img)
	}
	exfat := looptest.Sparse(t, t.TempDir(), 1<<20)
	run(t, "mkfs.exfat", "-b", "4096", "-c", "4096", exfat)
	writeSeed(t, dir, "1-fat12", fat(1<<20, "-F", "12"), 0)
	writeSeed(t, dir, "2-fat32", fat(33<<20, "-F", "32", "-s", "1"), 0)
	writeSeed(t, dir, "3-exfat", readFile(t, exfat), 0)
	writeSeed(t, dir, "4-ext4", ext(2<<20, "-t", "ext4", "-b", "1024", "-g", "256", "-N", "64", "-O", "^has_journal,^resize_inode"), 0)
	writeSeed(t, dir, "5-ext2", ext(1<<20, "-t", "ext2", "-b", "1024", "-N", "32"), 0)

	disk := looptest.Sparse(t, t.TempDir(), 6<<20)
	run(t, "sgdisk", "-a", "1", "-n", "1:64:+3M", "-t", "1:0700", "-n", "2:6208:+2M", "-t", "2:8300", disk)
	imagetest.Place(t, disk, tempWith(t, fat(3<<20, "-F", "16", "-s", "1", "-r", "16")), 64*512)
	imagetest.Place(t, disk, tempWith(t, ext(2<<20, "-t", "ext4", "-b", "1024", "-g", "1024", "-N", "64", "-O", "^has_journal,^resize_inode,meta_bg")), 6208*512)
	writeSeed(t, dir, "6-fat16-ext4", readFile(t, disk), 0)

	disk = looptest.Sparse(t, t.TempDir(), 8<<20)
	sfdisk(t, disk, "label: dos\nstart=64, size=2048, type=1\nstart=2112, size=12000, type=5\nstart=2176, size=8192, type=83\n")
	imagetest.Place(t, disk, tempWith(t, fat(1<<20, "-F", "12")), 64*512)
	imagetest.Place(t, disk, tempWith(t, ext(4<<20, "-t", "ext3", "-b", "1024", "-N", "32", "-J", "size=1")), 2176*512)
	writeSeed(t, dir, "7-fat12-ext3", readFile(t, disk), 0)
}

// tempWith writes b into a temporary file and returns its path.
func tempWith(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "part.img")
	writeFile(t, p, b)
	return p
}
