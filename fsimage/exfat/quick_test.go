package exfat

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
)

func TestQuick(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "a/b"), 0o755)
	os.WriteFile(filepath.Join(src, "a/b/hello.txt"), []byte("hello world\n"), 0o644)
	os.WriteFile(filepath.Join(src, "empty"), nil, 0o644)
	os.WriteFile(filepath.Join(src, "Some longer name with spaces and stuff.txt"), make([]byte, 10000), 0o644)
	for _, ss := range []int{512, 4096} {
		vol := fsimage.Volume{Size: 64 << 20, SectorSize: ss, Label: "TEST", Serial: 0x1234abcd, Entries: entriesOf(t, src), Now: time.Now()}
		lay, err := Build(vol)
		if err != nil {
			t.Fatal(err)
		}
		img := filepath.Join(t.TempDir(), "img")
		writeImage(t, img, vol.Size, lay)
		fsck(t, img)
		mnt := mountImage(t, img)
		t.Log(snapshot(t, mnt))
	}
}
