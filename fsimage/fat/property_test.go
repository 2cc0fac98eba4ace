package fat

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// randomTree returns a seeded random tree of valid, case-insensitively
// distinct names (BMP only: mtools cannot show surrogate pairs) and small
// sizes up to a few clusters.
func randomTree(r *rand.Rand, cluster int64) []treeFile {
	alphabet := []rune("abcxyzABCXYZ0129 .-_~!#$%&'()+,;=@[]^`{}éÉßñÑ日本語ÆæΩω")
	name := func() string {
		for {
			n := 1 + r.Intn(30)
			if r.Intn(3) == 0 {
				n = 1 + r.Intn(8) // many short ones, some plain 8.3
			}
			rs := make([]rune, n)
			for i := range rs {
				rs[i] = alphabet[r.Intn(len(alphabet))]
			}
			s := string(rs)
			switch r.Intn(5) {
			case 0: // a name with a dot and an extension
				s = strings.ToLower(s[:min(len(s), 6)]) + []string{".txt", ".TXT", ".Txt", ".tar.gz", ".jpeg"}[r.Intn(5)]
			case 1: // a plain 8.3 name in one case, or mixed
				b := []byte("abcxyz019_~-ABCXYZ")
				short := make([]byte, 1+r.Intn(8))
				for i := range short {
					short[i] = b[r.Intn(len(b))]
				}
				s = []func(string) string{strings.ToLower, strings.ToUpper, func(s string) string { return s }}[r.Intn(3)](string(short)) + []string{"", ".c", ".md", ".DOC"}[r.Intn(4)]
			}
			if checkLongName(s) == "" {
				return s
			}
		}
	}
	var files []treeFile
	dirs := []string{""}
	used := map[string]bool{}
	for i, n := 0, 5+r.Intn(60); i < n; i++ {
		parent := dirs[r.Intn(len(dirs))]
		p := parent + name()
		if used[strings.ToUpper(foldName(p))] {
			continue
		}
		used[strings.ToUpper(foldName(p))] = true
		if r.Intn(4) == 0 && strings.Count(p, "/") < 5 {
			dirs = append(dirs, p+"/")
			files = append(files, treeFile{p + "/", 0})
			continue
		}
		size := r.Int63n(3*cluster + 2)
		if r.Intn(4) == 0 {
			size = 0
		}
		files = append(files, treeFile{p, size})
	}
	return files
}

func TestRandomTrees(t *testing.T) {
	testreq.Tools(t, "fsck.fat", "mcopy")
	for seed := int64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewSource(seed))
			vol := fsimage.Volume{Size: 40 << 20, SectorSize: 512, Serial: uint32(seed), Now: testNow}
			switch seed % 4 {
			case 1:
				vol.Offset = 1 << 20
			case 2:
				vol.Size, vol.SectorSize = 64<<20, 4096 // FAT16
			case 3:
				vol.Size = 16 << 20 // FAT16
			}
			src := t.TempDir()
			vol.Entries = makeTree(t, src, randomTree(r, int64(DefaultClusterSize(vol.Size, vol.SectorSize))))
			vol.Label = []string{"", "rnd", "Seed " + fmt.Sprint(seed)}[seed%3]
			checkImage(t, vol, src)
		})
	}
}
