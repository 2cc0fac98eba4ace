package fat

import (
	"path/filepath"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// TestOracleSeesCorruption proves the fsck check is sharp: each small
// corruption of a good layout makes fsckClean's criteria fail. Without the
// Zero extents, the junk the test writer leaves in uncovered bytes shows.
func TestOracleSeesCorruption(t *testing.T) {
	testreq.Tools(t, "fsck.fat")
	src := t.TempDir()
	entries := makeTree(t, src, []treeFile{{"d/", 0}, {"d/Long Name.txt", 10}, {"e.txt", 5000}})
	vol := fsimage.Volume{Size: 64 << 20, SectorSize: 512, Label: "X", Entries: entries, Now: testNow}
	patchDir := func(l *fsimage.Layout, off int) {
		for i, e := range l.Extents {
			if e.What == "dir /d" {
				d := append([]byte(nil), e.Data...)
				d[off]++
				l.Extents[i].Data = d
			}
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(l *fsimage.Layout)
	}{
		{"none", func(l *fsimage.Layout) {}},
		{"FSInfo free count", func(l *fsimage.Layout) {
			b := append([]byte(nil), l.Extents[0].Data...)
			b[512+488]++
			l.Extents[0].Data = b
		}},
		{"'..' cluster", func(l *fsimage.Layout) { patchDir(l, 32+26) }},
		{"LFN checksum", func(l *fsimage.Layout) { patchDir(l, 64+13) }},
		{"no Zero extents", func(l *fsimage.Layout) {
			var xs []fsimage.Extent
			for _, e := range l.Extents {
				if e.Kind != fsimage.Zero {
					xs = append(xs, e)
				}
			}
			l.Extents = xs
		}},
	} {
		l, err := Build(vol)
		if err != nil {
			t.Fatal(err)
		}
		tc.mutate(l)
		img := filepath.Join(t.TempDir(), "img")
		imagetest.WriteLayout(t, img, 0, vol.Size, l, true)
		out, clean := fsck(t, img)
		if want := tc.name == "none"; clean != want {
			t.Errorf("fsck clean after %s = %v, want %v\n%s", tc.name, clean, want, out)
		}
	}
}
