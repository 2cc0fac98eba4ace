package exfat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// srcTree builds a source tree on the host.
type srcTree struct {
	t    testing.TB
	root string
}

func newSrcTree(t testing.TB) *srcTree { return &srcTree{t: t, root: t.TempDir()} }

func (s *srcTree) dir(p string) {
	if err := os.MkdirAll(filepath.Join(s.root, p), 0o755); err != nil {
		s.t.Fatal(err)
	}
}

func (s *srcTree) file(p string, data []byte) {
	s.dir(filepath.Dir(p))
	if err := os.WriteFile(filepath.Join(s.root, p), data, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// sparse makes a file of size bytes that is a hole except for a marker at
// each of sampleOffsets(size).
func (s *srcTree) sparse(p string, size int64) {
	s.dir(filepath.Dir(p))
	f, err := os.Create(filepath.Join(s.root, p))
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		s.t.Fatal(err)
	}
	for _, o := range sampleOffsets(size) {
		if _, err := fmt.Fprintf(io.NewOffsetWriter(f, o), "@%015x", o); err != nil {
			s.t.Fatal(err)
		}
	}
}

// fixTimes gives every path a distinct modification time with a fraction
// of a second, so that timestamps are checked too.
func (s *srcTree) fixTimes() {
	base := time.Date(2024, 2, 29, 13, 45, 30, 0, time.UTC)
	i := 0
	// Children first, so that setting a file's time does not touch its
	// directory's afterwards.
	var paths []string
	filepath.Walk(s.root, func(p string, _ os.FileInfo, err error) error {
		paths = append(paths, p)
		return err
	})
	for j := len(paths) - 1; j > 0; j-- {
		i++
		mt := base.Add(time.Duration(i)*time.Minute + time.Duration(i%100)*10*time.Millisecond + time.Duration(i%2)*time.Second)
		if err := os.Chtimes(paths[j], mt, mt); err != nil {
			s.t.Fatal(err)
		}
	}
}

// check is one build-and-verify run.
type check struct {
	vol     fsimage.Volume
	garbage bool // fill the image with garbage first (small images only)
	mount   bool // read the tree back through exfat-fuse
}

// counts returns the number of directories (with the root) and files.
func counts(es []*fsimage.Entry) (dirs, files int) {
	dirs = 1
	for _, e := range es {
		if e.Dir {
			dirs++
		} else {
			files++
		}
	}
	return dirs, files
}

// run builds the volume, checks the layout's invariants, writes the image,
// runs fsck.exfat and exfatlabel on it and, if asked, compares the tree read
// back through exfat-fuse with the source.
func (c check) run(t *testing.T, src *srcTree) *fsimage.Layout {
	t.Helper()
	lay, err := Build(c.vol)
	if err != nil {
		t.Fatalf("Build() error = %v", err)
	}
	checkLayout(t, c.vol, lay)
	img := filepath.Join(t.TempDir(), "exfat.img")
	imagetest.WriteLayout(t, img, c.vol.Offset, c.vol.Size, lay, c.garbage)
	dirs, files := counts(c.vol.Entries)
	fsck(t, img, dirs, files)
	checkLabelTool(t, img, c.vol.Label, c.vol.Serial)
	if c.mount {
		mnt := mountImage(t, img)
		if diff := cmp.Diff(snapshot(t, src.root), snapshot(t, mnt)); diff != "" {
			t.Errorf("tree read back through exfat-fuse differs from the source (-source +exfat):\n%s", diff)
		}
		checkFree(t, mnt, lay, c.vol.Entries)
	}
	return lay
}

// checkFree compares the free space exfat-fuse counts in the allocation
// bitmap with the clusters the content needs, worked out here from the
// entries: bitmap, up-case table (5836 bytes), every directory's entries
// (3 critical ones in the root, a File, a Stream Extension and a File Name
// per 15 UTF-16 units for each child; one cluster at least) and files.
func checkFree(t *testing.T, mnt string, lay *fsimage.Layout, es []*fsimage.Entry) {
	t.Helper()
	bs := lay.Extents[0].Data
	cs := int64(1) << (bs[108] + bs[109])
	cc := int64(binary.LittleEndian.Uint32(bs[92:]))
	clusters := func(n int64) int64 { return (n + cs - 1) / cs }
	dirBytes := map[string]int64{"": 3 * 32}
	used := clusters((cc+7)/8) + clusters(5836)
	for _, e := range es {
		parent, name := path.Split(e.Path)
		dirBytes[strings.TrimSuffix(parent, "/")] += 32 * (2 + (int64(len(utf16.Encode([]rune(name))))+14)/15)
		if e.Dir {
			dirBytes[e.Path] += 0
		} else {
			used += clusters(e.Size)
		}
	}
	for _, n := range dirBytes {
		used += max(1, clusters(n))
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	if got, want := int64(st.Bfree)*st.Bsize, (cc-used)*cs; got != want {
		t.Errorf("free bytes by exfat-fuse = %d, want %d (%d clusters of %d, %d used)", got, want, cc, cs, used)
	}
}

// checkLayout checks the Layout against the contract: sorted,
// non-overlapping extents inside the volume, one FileData extent and one
// FileRun per non-empty file, at the same offset.
func checkLayout(t *testing.T, vol fsimage.Volume, lay *fsimage.Layout) {
	t.Helper()
	p := &fsimage.Plan{DeviceSize: vol.Offset + vol.Size, Extents: lay.Extents}
	if err := p.Check(); err != nil {
		t.Fatalf("Plan.Check() = %v, want nil", err)
	}
	if len(lay.Extents) > 0 && lay.Extents[0].Offset < vol.Offset {
		t.Errorf("first extent at %d, want >= volume offset %d", lay.Extents[0].Offset, vol.Offset)
	}
	data := map[*fsimage.Entry]fsimage.Extent{}
	for _, e := range lay.Extents {
		if e.Kind == fsimage.FileData {
			if _, dup := data[e.Entry]; dup {
				t.Errorf("file %s has two FileData extents", e.Entry.Path)
			}
			data[e.Entry] = e
		}
	}
	runs := map[*fsimage.Entry]int64{}
	var prev int64
	for _, r := range lay.Files {
		if r.Offset < prev {
			t.Errorf("FileRun %s at %d precedes the previous at %d", r.Entry.Path, r.Offset, prev)
		}
		prev = r.Offset
		runs[r.Entry] = r.Offset
	}
	for _, e := range vol.Entries {
		if e.Dir || e.Size == 0 {
			continue
		}
		x, ok := data[e]
		if !ok || x.Length != e.Size || x.SourceOffset != 0 {
			t.Errorf("FileData extent of %s = %+v, want one of %d bytes from source offset 0", e.Path, x, e.Size)
		}
		if off, ok := runs[e]; !ok || off != x.Offset {
			t.Errorf("FileRun of %s at %d (listed %v), want at its extent's %d", e.Path, off, ok, x.Offset)
		}
	}
	if len(runs) != len(data) {
		t.Errorf("len(Files) = %d, want %d (one per non-empty file)", len(runs), len(data))
	}
	if lay.Label != vol.Label {
		t.Errorf("Layout.Label = %q, want %q", lay.Label, vol.Label)
	}
}

// checkLabelTool checks label and serial with exfatlabel (exfatprogs).
func checkLabelTool(t *testing.T, img, label string, serial uint32) {
	t.Helper()
	testreq.Tool(t, "exfatlabel")
	out, err := exec.Command("exfatlabel", img).CombinedOutput()
	if want := "label: " + label + "\n"; err != nil || label != "" && !strings.Contains(string(out), want) {
		t.Errorf("exfatlabel %s = %v %q, want %q", img, err, out, want)
	}
	if label == "" && strings.Contains(string(out), "label:") {
		t.Errorf("exfatlabel %s = %q, want no label", img, out)
	}
	out, err = exec.Command("exfatlabel", "-i", img).CombinedOutput()
	if want := fmt.Sprintf("volume serial : 0x%x", serial); err != nil || !strings.Contains(string(out), want) {
		t.Errorf("exfatlabel -i %s = %v %q, want %q", img, err, out, want)
	}
}

// richTree makes the tree of the issue: names outside the BMP, names that
// differ only in case in different directories, deep nesting, empty files
// and directories, a directory of 5,000 files, files around one cluster,
// names of every File Name entry count boundary.
func richTree(t *testing.T, clusterSize int) *srcTree {
	s := newSrcTree(t)
	s.file("😀 smile.txt", []byte("outside the BMP\n"))
	s.file("𝄞/音楽/Ünïcödé ñame.txt", []byte("music"))
	s.file("one/README.md", []byte("lower dir"))
	s.file("ONE2/readme.MD", []byte("upper dir"))
	s.file("one/sub/Readme.md", []byte("another"))
	deep := strings.Repeat("level/", 40)
	s.file(deep+"bottom.txt", []byte("deep"))
	s.file("empty.bin", nil)
	s.file("emptydir-sibling/empty too", nil)
	s.dir("empty dir")
	s.dir("nested/empty/dirs")
	s.file("clusters/exactly one", pattern(clusterSize, 1))
	s.file("clusters/one more byte", pattern(clusterSize+1, 2))
	s.file("clusters/one less byte", pattern(clusterSize-1, 3))
	s.file("clusters/three", pattern(3*clusterSize, 4))
	// Name lengths around File Name entry boundaries; the host's file
	// names are limited to 255 bytes of UTF-8.
	for _, n := range []int{1, 14, 15, 16, 29, 30, 31, 254} {
		s.file("names/"+strings.Repeat("x", n-1)+"é", []byte(fmt.Sprint(n)))
	}
	s.file("names/"+strings.Repeat("y", 255), []byte("255"))
	s.file("names/"+strings.Repeat("😀", 63)+"x", []byte("127 units, mostly surrogates"))
	s.file("names/ spaces and..dots .x", []byte("odd but legal (a trailing dot or space is not: Windows cannot open it)"))
	for i := range 5000 {
		s.file(fmt.Sprintf("many/file %04d.txt", i), []byte(fmt.Sprintf("content of file %d\n", i)))
	}
	s.fixTimes()
	return s
}

// pattern returns n bytes that differ per seed and position.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	for _, ss := range []int{512, 4096} {
		t.Run(fmt.Sprintf("sector%d", ss), func(t *testing.T) {
			src := richTree(t, 4096)
			vol := fsimage.Volume{
				Offset:     1 << 20,
				Size:       96 << 20,
				SectorSize: ss,
				Label:      "Ünïcödé 😀",
				Serial:     0x1234ABCD,
				Entries:    entriesOf(t, src.root),
				Now:        time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			}
			lay := check{vol: vol, garbage: true, mount: true}.run(t, src)
			if got := clusterSizeOf(t, lay); got != 4096 {
				t.Errorf("cluster size = %d, want the 4096 default for 96 MiB", got)
			}
		})
	}
}

// clusterSizeOf reads the cluster size from the layout's boot sector.
func clusterSizeOf(t *testing.T, lay *fsimage.Layout) int {
	t.Helper()
	bs := lay.Extents[0].Data
	return 1 << (bs[108] + bs[109])
}

func TestLargeSparseFile(t *testing.T) {
	src := newSrcTree(t)
	src.sparse("video/huge.bin", 5<<30)
	src.file("video/small.txt", []byte("small"))
	src.file("a.txt", []byte("a"))
	vol := fsimage.Volume{Size: 6 << 30, SectorSize: 512, Label: "BIG", Serial: 7, Entries: entriesOf(t, src.root), Now: time.Now()}
	// The 5 GiB file is compared by size and by the SHA1 of 1 MiB windows
	// around its markers, every 512 MiB, across 4 GiB and at its end (see
	// sampleOffsets); the rest of it is holes in the source.
	lay := check{vol: vol, mount: true}.run(t, src)
	if got := clusterSizeOf(t, lay); got != 32<<10 {
		t.Errorf("cluster size = %d, want the 32 KiB default for 6 GiB", got)
	}
}

func TestEmptyVolume(t *testing.T) {
	src := newSrcTree(t)
	for _, ss := range []int{512, 4096} {
		vol := fsimage.Volume{Size: 1 << 20, SectorSize: ss, Serial: 1, Now: time.Now()}
		check{vol: vol, garbage: true, mount: ss == 512}.run(t, src)
	}
}

// TestClusterSizes builds the same small tree with every cluster size from
// the sector size to 1 MiB.
func TestClusterSizes(t *testing.T) {
	src := newSrcTree(t)
	src.file("a/b.txt", pattern(5000, 1))
	src.file("c.txt", pattern(70000, 2))
	src.dir("d")
	for _, ss := range []int{512, 4096} {
		for cs := ss; cs <= 1<<20; cs *= 2 {
			vol := fsimage.Volume{Size: 40 << 20, SectorSize: ss, ClusterSize: cs, Label: "CS", Serial: uint32(cs), Entries: entriesOf(t, src.root), Now: time.Now()}
			check{vol: vol, garbage: true}.run(t, src)
		}
	}
}

// TestRandomTrees builds seeded random trees; fsck.exfat checks all of
// them, exfat-fuse reads back the first few.
func TestRandomTrees(t *testing.T) {
	const iterations, mounted = 15, 3
	for seed := range uint64(iterations) {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0x5eed))
			ss := []int{512, 4096}[r.IntN(2)]
			cs := ss << r.IntN(6)
			src := randomTree(t, r, cs)
			vol := fsimage.Volume{
				Offset: int64(r.IntN(4)) * (1 << 20), Size: 48 << 20, SectorSize: ss, ClusterSize: cs,
				Label: randomName(r, 1+r.IntN(5)), Serial: r.Uint32(),
				Entries: entriesOf(t, src.root), Now: time.Now(),
			}
			check{vol: vol, garbage: true, mount: seed < mounted}.run(t, src)
		})
	}
}

// nameRunes are what random names are made of: ASCII, Latin-1, Greek,
// Cyrillic, CJK, characters outside the BMP, and legal punctuation.
var nameRunes = []rune("abcXYZ09 ._-+,;=[]{}()!#$%&'@^`~éÉßÆøΣσςДдЖж中文字😀𝄞🎉")

func randomName(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(nameRunes[r.IntN(len(nameRunes))])
	}
	return b.String()
}

// randomTree makes up to ~60 entries with random names, depths and sizes
// (0 to three clusters and a bit), skipping names that collide.
func randomTree(t *testing.T, r *rand.Rand, cs int) *srcTree {
	s := newSrcTree(t)
	dirs := []string{"."}
	seen := map[string]bool{}
	for range 10 + r.IntN(50) {
		parent := dirs[r.IntN(len(dirs))]
		name := randomName(r, 1+r.IntN(40))
		p := filepath.Join(parent, name)
		key := strings.ToUpper(p) // stricter than exFAT's up-case: fine here
		// Names Windows cannot open ("..", "x.", "x ") are refused.
		if seen[key] || fsimage.WindowsNameProblem(name) != "" {
			continue
		}
		seen[key] = true
		if r.IntN(4) == 0 {
			s.dir(p)
			dirs = append(dirs, p)
			continue
		}
		size := []int{0, 1, cs - 1, cs, cs + 1, 3*cs + 17, r.IntN(4 * cs)}[r.IntN(7)]
		s.file(p, pattern(size, byte(r.IntN(256))))
	}
	return s
}

func TestBadNames(t *testing.T) {
	es := []*fsimage.Entry{
		{Path: "ok", Dir: true},
		{Path: "ok/a:b", Size: 1},
		{Path: "ok/fine.txt", Size: 1},
		{Path: "ok/FINE.TXT", Size: 1},
		{Path: "ok/Fine.txt", Size: 1},
		{Path: "ok/ǆ", Size: 1}, // dž: up-cases to Ǆ
		{Path: "ok/Ǆ", Size: 1},
		{Path: "ok/ǅ", Size: 1}, // titlecase Dž maps to itself in the table: no collision
		{Path: "ok/straße", Size: 1},
		{Path: "ok/STRASSE", Size: 1}, // ß has no simple upper case: no collision
		{Path: "q?", Dir: true},
		{Path: "q?/inner", Size: 1},
		{Path: "tab\there", Size: 1},
		{Path: `back\slash`, Size: 1},
		{Path: "pipe|star*", Size: 1},
		{Path: `quote"lt<gt>`, Size: 1},
		{Path: strings.Repeat("n", 256), Size: 1},
		{Path: strings.Repeat("😀", 128), Size: 1},
		{Path: strings.Repeat("😀", 127) + "x", Size: 1}, // 255 units: fine
		{Path: "Dup", Size: 1},
		{Path: "dup", Dir: true},
		{Path: "Ünï", Size: 1},
		{Path: "üNÏ", Size: 1},
		{Path: "ok/", Size: 1},
		{Path: "bad\xffutf8", Size: 1},
		{Path: "CON", Dir: true},
		{Path: "aux.txt", Size: 1},
		{Path: "Com²", Size: 1},
		{Path: "dot.", Size: 1},
		{Path: "space ", Size: 1},
		{Path: "COM10", Size: 1}, // not a device
	}
	_, err := Build(fsimage.Volume{Size: 8 << 20, SectorSize: 512, Entries: es})
	bn := asBadNames(t, err)
	got := map[string]string{}
	for _, n := range bn.Names {
		got[n.Path] = n.Reason
	}
	want := map[string]string{
		"ok/a:b":                 `contains ':'`,
		"ok/fine.txt":            `same name ignoring case as "ok/FINE.TXT"`,
		"ok/FINE.TXT":            `same name ignoring case as "ok/fine.txt"`,
		"ok/Fine.txt":            `same name ignoring case as "ok/fine.txt"`,
		"ok/ǆ":                   `same name ignoring case as "ok/Ǆ"`,
		"ok/Ǆ":                   `same name ignoring case as "ok/ǆ"`,
		"q?":                     `contains '?'`,
		"tab\there":              `control character U+0009`,
		`back\slash`:             `contains '\\'`,
		"pipe|star*":             `contains '|'`,
		`quote"lt<gt>`:           `contains '"'`,
		strings.Repeat("n", 256): "256 UTF-16 units long; exFAT allows 255",
		strings.Repeat("😀", 128): "256 UTF-16 units long; exFAT allows 255",
		"Dup":                    `same name ignoring case as "dup"`,
		"dup":                    `same name ignoring case as "Dup"`,
		"Ünï":                    `same name ignoring case as "üNÏ"`,
		"üNÏ":                    `same name ignoring case as "Ünï"`,
		"ok/":                    "name is empty",
		"bad\xffutf8":            "not valid UTF-8",
		"CON":                    "CON is a device name Windows reserves",
		"aux.txt":                "AUX is a device name Windows reserves",
		"Com²":                   "COM² is a device name Windows reserves",
		"dot.":                   "ends in a dot or a space",
		"space ":                 "ends in a dot or a space",
	}
	if len(got) != len(want) || len(bn.Names) != len(want) {
		t.Errorf("BadNamesError lists %d names (%d distinct), want %d:\n%v", len(bn.Names), len(got), len(want), bn)
	}
	for p, reason := range want {
		if !strings.Contains(got[p], reason) {
			t.Errorf("reason for %q = %q, want it to contain %q", p, got[p], reason)
		}
	}
	if bn.FS != "exFAT" {
		t.Errorf("BadNamesError.FS = %q, want %q", bn.FS, "exFAT")
	}
}

// TestDirectoryLimit checks the 256 MiB directory limit with a lower limit:
// a real 256 MiB directory takes ~440,000 entries of 255-unit names.
func TestDirectoryLimit(t *testing.T) {
	es := []*fsimage.Entry{{Path: "big", Dir: true}, {Path: "small", Dir: true}, {Path: "small/a", Size: 1}}
	for i := range 10 { // 10 × 3 entries × 32 bytes = 960 bytes
		es = append(es, &fsimage.Entry{Path: fmt.Sprintf("big/file %d", i), Size: 1})
	}
	_, err := buildTree(es, theUpcase(), 959)
	bn := asBadNames(t, err)
	if len(bn.Names) != 1 || bn.Names[0].Path != "big" || !strings.Contains(bn.Names[0].Reason, "needs 960 bytes of entries; exFAT allows 959") {
		t.Errorf("buildTree(limit 959) error = %v, want one bad name: big needs 960 bytes", err)
	}
	if _, err := buildTree(es, theUpcase(), 960); err != nil {
		t.Errorf("buildTree(limit 960) error = %v, want nil", err)
	}
}

func TestNoSpace(t *testing.T) {
	es := []*fsimage.Entry{
		{Path: "d", Dir: true},
		{Path: "d/big", Size: 8 << 20, Source: "/nonexistent"},
		{Path: "d/small", Size: 1, Source: "/nonexistent"},
	}
	vol := fsimage.Volume{Size: 8 << 20, SectorSize: 512, Entries: es}
	_, err := Build(vol)
	var ns *fsimage.NoSpaceError
	if !errors.As(err, &ns) {
		t.Fatalf("Build() error = %v, want a *fsimage.NoSpaceError", err)
	}
	// 8 MiB with 4 KiB clusters. Needed is the heap offset plus the
	// clusters of bitmap (1), up-case table (2), root (1), d (1), big
	// (2048) and small (1).
	g, err := newGeometry(vol)
	if err != nil {
		t.Fatal(err)
	}
	wantNeeded := int64(g.heapOffset)*512 + (1+2+1+1+2048+1)*4096
	if ns.Needed != wantNeeded || ns.Available != 8<<20 {
		t.Errorf("NoSpaceError = {Needed %d, Available %d}, want {%d, %d}", ns.Needed, ns.Available, wantNeeded, 8<<20)
	}
	// One cluster less content fits exactly when Needed <= Available.
	es[1].Size = int64(g.clusterCount-6) * 4096
	if _, err := Build(vol); err != nil {
		t.Errorf("Build() with content of exactly the cluster heap = %v, want nil", err)
	}
	es[1].Size++
	if _, err := Build(vol); !errors.As(err, &ns) {
		t.Errorf("Build() with one byte more than the cluster heap = %v, want a *fsimage.NoSpaceError", err)
	}
}

func TestInvalidVolumes(t *testing.T) {
	for _, tc := range []struct {
		vol  fsimage.Volume
		want string
	}{
		{fsimage.Volume{Size: 8 << 20, SectorSize: 520}, "sector size 520"},
		{fsimage.Volume{Size: 8 << 20, SectorSize: 512, ClusterSize: 3000}, "cluster size 3000 is invalid"},
		{fsimage.Volume{Size: 8 << 20, SectorSize: 4096, ClusterSize: 2048}, "cluster size 2048 is invalid"},
		{fsimage.Volume{Size: 64 << 20, SectorSize: 512, ClusterSize: 64 << 20}, "cluster size 67108864 is invalid"},
		{fsimage.Volume{Size: 8 << 20, SectorSize: 512, Offset: 100}, "offset 100"},
		{fsimage.Volume{Size: 1<<20 - 512, SectorSize: 512}, "minimum of 1 MiB"},
		{fsimage.Volume{Size: 8 << 20, SectorSize: 512, Label: "TWELVE CHARS"}, "12 UTF-16 units long; exFAT allows 11"},
		{fsimage.Volume{Size: 8 << 20, SectorSize: 512, Label: "😀😀😀😀😀😀"}, "12 UTF-16 units long; exFAT allows 11"},
		{fsimage.Volume{Size: 8 << 20, SectorSize: 512, Label: "a/b"}, `label contains '/'; exFAT forbids " * / : < > ? \ |`},
		{fsimage.Volume{Size: 8 << 20, SectorSize: 512, Entries: []*fsimage.Entry{{Path: "x/y"}}}, `directory "x" is not listed`},
	} {
		_, err := Build(tc.vol)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%+v) error = %v, want one containing %q", tc.vol, err, tc.want)
		}
	}
	// Eleven units, some of them outside the BMP, are fine.
	if _, err := Build(fsimage.Volume{Size: 8 << 20, SectorSize: 512, Label: "😀😀😀😀😀x"}); err != nil {
		t.Errorf("Build() with an 11-unit label = %v, want nil", err)
	}
}

func TestDefaultClusterSize(t *testing.T) {
	for _, tc := range []struct {
		size int64
		want int
	}{
		{1 << 20, 4096}, {256 << 20, 4096}, {256<<20 + 1, 32768}, {8 << 30, 32768},
		{32 << 30, 32768}, {32<<30 + 1, 131072}, {2 << 40, 131072},
	} {
		if got := DefaultClusterSize(tc.size); got != tc.want {
			t.Errorf("DefaultClusterSize(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

func TestTimestamp(t *testing.T) {
	for _, tc := range []struct {
		in     time.Time
		ts     uint32
		tenMs  uint8
		whence string
	}{
		{time.Date(2024, 2, 29, 13, 45, 31, 567_000_000, time.UTC),
			44<<25 | 2<<21 | 29<<16 | 13<<11 | 45<<5 | 15, 156, "odd second and 567 ms"},
		{time.Date(2024, 2, 29, 15, 45, 30, 0, time.FixedZone("CEST", 2*3600)),
			44<<25 | 2<<21 | 29<<16 | 13<<11 | 45<<5 | 15, 0, "converted to UTC"},
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 0<<25 | 1<<21 | 1<<16, 0, "before 1980: clamped"},
		{time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), 127<<25 | 12<<21 | 31<<16 | 23<<11 | 59<<5 | 29, 199, "after 2107: clamped"},
	} {
		ts, ms := timestamp(tc.in)
		if ts != tc.ts || ms != tc.tenMs {
			t.Errorf("timestamp(%v) = %#x, %d, want %#x, %d (%s)", tc.in, ts, ms, tc.ts, tc.tenMs, tc.whence)
		}
	}
}

// TestUpcaseMatchesMkfs compares the generated up-case table with the one
// mkfs.exfat writes, which is the specification's recommended table.
func TestUpcaseMatchesMkfs(t *testing.T) {
	testreq.Tool(t, "mkfs.exfat")
	img := filepath.Join(t.TempDir(), "mkfs.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.exfat", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.exfat %s: %v: %s", img, err, out)
	}
	raw, sum := mkfsUpcase(t, img)
	up := theUpcase()
	if sum != up.checksum || string(raw) != string(up.raw) {
		t.Errorf("up-case table = %d bytes, checksum %#x; want mkfs.exfat's %d bytes, checksum %#x", len(up.raw), up.checksum, len(raw), sum)
	}
	theirs := decompressUpcase(raw)
	for c := range up.table {
		if up.table[c] != theirs[c] {
			t.Errorf("upcase(%U) = %U, want %U as mkfs.exfat", c, up.table[c], theirs[c])
		}
	}
}

// mkfsUpcase reads the up-case table and its checksum from an exFAT image
// whose root directory fits in its first cluster.
func mkfsUpcase(t *testing.T, img string) ([]byte, uint32) {
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	ss := 1 << b[108]
	cs := ss << b[109]
	heap := int(le.Uint32(b[88:])) * ss
	cluster := func(c uint32) []byte { return b[heap+int(c-2)*cs:] }
	root := cluster(le.Uint32(b[96:]))
	for i := 0; i < cs; i += entrySize {
		if e := root[i:]; e[0] == typeUpcase {
			return cluster(le.Uint32(e[20:]))[:le.Uint64(e[24:])], le.Uint32(e[4:])
		}
	}
	t.Fatalf("no up-case table entry in the root directory of %s", img)
	return nil, 0
}

// decompressUpcase expands a compressed up-case table (§7.2.5.1).
func decompressUpcase(raw []byte) []uint16 {
	var m []uint16
	for i := 0; i+1 < len(raw); i += 2 {
		v := binary.LittleEndian.Uint16(raw[i:])
		if v == 0xFFFF && i+3 < len(raw) {
			n := int(binary.LittleEndian.Uint16(raw[i+2:]))
			for range n {
				m = append(m, uint16(len(m)))
			}
			i += 2
			continue
		}
		m = append(m, v)
	}
	for len(m) < 65536 {
		m = append(m, uint16(len(m)))
	}
	return m
}

func BenchmarkBuild20000Files(b *testing.B) {
	var es []*fsimage.Entry
	mt := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for d := range 20 {
		dir := fmt.Sprintf("folder %02d", d)
		es = append(es, &fsimage.Entry{Path: dir, Dir: true, ModTime: mt})
		for f := range 1000 {
			es = append(es, &fsimage.Entry{
				Path: fmt.Sprintf("%s/some document number %04d.pdf", dir, f), Source: "/dev/null",
				Size: int64(f*997%200_000 + 1), ModTime: mt,
			})
		}
	}
	vol := fsimage.Volume{Size: 16 << 30, SectorSize: 512, Label: "BENCH", Serial: 1, Entries: es, Now: mt}
	theUpcase()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(vol); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGeometryMatchesMkfs compares FAT offset and length, cluster heap
// offset, cluster count and cluster size with what mkfs.exfat picks for the
// same size (on 512-byte sectors; this mkfs.exfat has no sector size
// option). Below 16 MiB we align to the cluster rather than to 1 MiB, so
// that small volumes keep their space.
func TestGeometryMatchesMkfs(t *testing.T) {
	testreq.Tool(t, "mkfs.exfat")
	for _, size := range []int64{16 << 20, 64 << 20, 300 << 20, 6 << 30, 32 << 30, 64 << 30, 256 << 30} {
		img := filepath.Join(t.TempDir(), "mkfs.img")
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, size); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mkfs.exfat", img).CombinedOutput(); err != nil {
			t.Fatalf("mkfs.exfat %s: %v: %s", img, err, out)
		}
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 512)
		_, err = f.ReadAt(b, 0)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		le := binary.LittleEndian
		want := [5]uint32{le.Uint32(b[80:]), le.Uint32(b[84:]), le.Uint32(b[88:]), le.Uint32(b[92:]), 1 << (b[108] + b[109])}
		g, err := newGeometry(fsimage.Volume{Size: size, SectorSize: 512})
		if err != nil {
			t.Fatalf("newGeometry(%d bytes) error = %v", size, err)
		}
		got := [5]uint32{g.fatOffset, g.fatLength, g.heapOffset, g.clusterCount, uint32(g.clusterSize)}
		if got != want {
			t.Errorf("geometry(%d bytes) = FatOffset, FatLength, ClusterHeapOffset, ClusterCount, cluster size %v, want mkfs.exfat's %v", size, got, want)
		}
	}
}
