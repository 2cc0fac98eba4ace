package fsimage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
)

// TestOpenRegular opens a regular file and refuses, without blocking, a
// FIFO (no writer: a plain open would wait forever), character devices
// and a directory, naming each kind.
func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	file, fifo := filepath.Join(dir, "f"), filepath.Join(dir, "pipe")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	imagetest.FIFO(t, fifo)
	f, fi, err := fsimage.OpenRegular(file)
	if err != nil || fi.Size() != 4 {
		t.Fatalf("OpenRegular(regular file) = %v, %v; want it open, 4 bytes", fi, err)
	}
	f.Close()
	for path, kind := range map[string]string{fifo: "fifo", "/dev/null": "character device", "/dev/zero": "character device", dir: "directory"} {
		imagetest.Within(t, 5*time.Second, fifo, "OpenRegular("+path+")", func() { f, _, err = fsimage.OpenRegular(path) })
		var nr *fsimage.NotRegularError
		if !errors.As(err, &nr) || err.Error() != path+" is a "+kind+", not a regular file" {
			t.Errorf("OpenRegular(%s) = %v, want %q", path, err, path+" is a "+kind+", not a regular file")
		}
		if err == nil {
			f.Close()
		}
	}
	if _, err := fsimage.ReadRegular(fifo); err == nil {
		t.Errorf("ReadRegular(fifo) = nil error, want a refusal")
	}
}

// TestWriteImagePlanRefusesFIFO: a source replaced by a FIFO after the
// manifest was made fails the image write at once.
func TestWriteImagePlanRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(src, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(src)
	e := &fsimage.Entry{Path: "a.txt", Source: src, Size: 4, Mode: 0o644, ModTime: fi.ModTime()}
	p := &fsimage.Plan{DeviceSize: 1 << 20, SectorSize: 512, Extents: []fsimage.Extent{{Offset: 4096, Length: 4, Kind: fsimage.FileData, Entry: e, What: "a.txt"}}}
	os.Remove(src)
	imagetest.FIFO(t, src)
	var err error
	imagetest.Within(t, 10*time.Second, src, "WriteImagePlan", func() {
		err = fsimage.WriteImagePlan(context.Background(), p, filepath.Join(dir, "out.img"), nil)
	})
	if err == nil || !strings.Contains(err.Error(), src+" is a fifo") {
		t.Errorf("WriteImagePlan with a FIFO source = %v, want an error saying it is a fifo", err)
	}
}
