package compile

import (
	"errors"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/fsimage/ptable"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// TestFilesystemsAreComplete holds every filesystem Filesystems lists to
// its descriptor: every field set, each limit it states enforced by its
// builder, and a volume built at its MinSize that the filesystem's own
// checker (imagetest.Fsck) finds clean even where the layout leaves bytes
// alone. A filesystem added with a piece forgotten fails here.
func TestFilesystemsAreComplete(t *testing.T) {
	es := content(t)
	names := map[string]bool{}
	for _, fs := range Filesystems() {
		if names[fs.Name] {
			t.Errorf("Filesystems() lists %q twice", fs.Name)
		}
		names[fs.Name] = true
		t.Run(fs.Name, func(t *testing.T) {
			checkFields(t, fs)
			checkVariants(t, fs)
			checkLimits(t, fs)
			if fs.Clusters.Settable() {
				checkClusters(t, fs, es)
			}
			checkVolume(t, fs, es)
		})
	}
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// checkFields requires every field a filesystem needs.
func checkFields(t *testing.T, fs *fsimage.Filesystem) {
	if !nameRE.MatchString(fs.Name) {
		t.Errorf("Name = %q, want lower-case letters and digits, as mkfs { type = ... } takes it", fs.Name)
	}
	if fs.Summary == "" || strings.HasSuffix(fs.Summary, ".") {
		t.Errorf("Summary = %q, want a phrase", fs.Summary)
	}
	if fs.CheckLabel == nil || fs.Build == nil || fs.MinSize == nil || fs.Clusters.Default == nil {
		t.Fatalf("CheckLabel, Build, MinSize and Clusters.Default must all be set (nil: %v %v %v %v)",
			fs.CheckLabel == nil, fs.Build == nil, fs.MinSize == nil, fs.Clusters.Default == nil)
	}
	if fs.MaxFileSize <= 0 {
		t.Errorf("MaxFileSize = %d, want the largest file the format holds", fs.MaxFileSize)
	}
	if fs.Mount.Type == "" {
		t.Errorf("Mount.Type is empty, want the type mount(2) takes")
	}
}

// checkVariants requires a partition type for every variant, and names
// that tell them apart.
func checkVariants(t *testing.T, fs *fsimage.Filesystem) {
	if len(fs.Variants) == 0 {
		t.Fatalf("Variants is empty, want at least the partition type of the filesystem")
	}
	seen := map[string]bool{}
	for _, v := range fs.Variants {
		if (len(fs.Variants) > 1) != (v.Name != "") || seen[v.Name] {
			t.Errorf("variant %q: want distinct names when there are several, none when there is one", v.Name)
		}
		seen[v.Name] = true
		if v.Type.MBR == 0 || v.Type.MBR == 0xEE {
			t.Errorf("variant %q: MBR type 0x%02X marks an unused or protective entry", v.Name, v.Type.MBR)
		}
		if g, err := ptable.ParseGUID(v.Type.GPT); err != nil || g == ([16]byte{}) {
			t.Errorf("variant %q: GPT type %q: %v, want a partition type GUID", v.Name, v.Type.GPT, err)
		}
	}
}

// checkLimits: the builder refuses what CheckLabel refuses and a file over
// MaxFileSize, and takes a file of MaxFileSize as a name it can hold.
func checkLimits(t *testing.T, fs *fsimage.Filesystem) {
	for _, l := range []string{"", "FLASHPIPE"} {
		if err := fs.CheckLabel(l); err != nil {
			t.Errorf("CheckLabel(%q) = %v, want nil", l, err)
		}
	}
	long := strings.Repeat("L", 256)
	if fs.CheckLabel(long) == nil {
		t.Errorf("CheckLabel(256 characters) = nil, want an error")
	}
	vol := fsimage.Volume{Size: 4 << 20, SectorSize: 512, Label: long, Now: now, TempDir: t.TempDir()}
	if l, err := fs.Build(vol); err == nil {
		release(l)
		t.Errorf("Build(label CheckLabel refuses) error = nil, want the same refusal")
	}
	var bad *fsimage.BadNamesError
	for _, size := range []int64{fs.MaxFileSize, fs.MaxFileSize + 1} {
		vol := fsimage.Volume{Size: 4 << 20, SectorSize: 512, Now: now, TempDir: t.TempDir(),
			Entries: []*fsimage.Entry{{Path: "big.bin", Size: size, ModTime: now}}}
		l, err := fs.Build(vol)
		release(l)
		if got, want := errors.As(err, &bad), size > fs.MaxFileSize; got != want {
			t.Errorf("Build(a file of %d bytes; MaxFileSize %d) error = %v, want a *fsimage.BadNamesError: %v", size, fs.MaxFileSize, err, want)
		}
	}
}

// checkClusters: the builder takes Min and Max and refuses twice Max, and
// Default is the size Build picks by itself.
func checkClusters(t *testing.T, fs *fsimage.Filesystem, es []*fsimage.Entry) {
	c := fs.Clusters
	if c.Min < 512 || c.Min&(c.Min-1) != 0 || c.Max < c.Min || c.Max&(c.Max-1) != 0 {
		t.Fatalf("Clusters = %d..%d, want powers of two from 512 bytes", c.Min, c.Max)
	}
	for _, cs := range []int{c.Min, c.Max} {
		vol := fsimage.Volume{SectorSize: 512, ClusterSize: cs, Entries: es, Now: now}
		size, err := fs.MinSize(vol)
		if err != nil {
			t.Errorf("MinSize(%d-byte clusters) error = %v, want a size", cs, err)
			continue
		}
		vol.Size = size
		if _, err := fs.Build(vol); err != nil {
			t.Errorf("Build(%d-byte clusters, MinSize %d) error = %v, want a layout", cs, size, err)
		}
		vol.ClusterSize = 2 * c.Max
		if _, err := fs.Build(vol); err == nil {
			t.Errorf("Build(%d-byte clusters; Clusters.Max %d) error = nil, want a refusal", vol.ClusterSize, c.Max)
		}
	}
	for _, size := range []int64{16 << 20, 300 << 20, 40 << 30} {
		d := c.Default(size, 512)
		if problem := c.Check(int64(d)); problem != "" {
			t.Errorf("Clusters.Default(%d) = %d: %s", size, d, problem)
		}
		vol := fsimage.Volume{Size: size, SectorSize: 512, Entries: es, Now: now}
		auto, err := fs.Build(vol)
		if err != nil {
			t.Fatalf("Build(%d bytes) error = %v", size, err)
		}
		vol.ClusterSize = d
		set, err := fs.Build(vol)
		if err != nil || !reflect.DeepEqual(auto.Extents, set.Extents) {
			t.Errorf("Build(%d bytes, Clusters.Default = %d) = %v, want the layout Build picks by itself", size, d, err)
		}
	}
}

// checkVolume builds a volume of MinSize over a garbage-filled image and
// runs the filesystem's checker on it.
func checkVolume(t *testing.T, fs *fsimage.Filesystem, es []*fsimage.Entry) {
	testreq.Tools(t, fs.Tools...)
	vol := fsimage.Volume{SectorSize: 512, Label: "FLASHPIPE", Serial: 7, Entries: es, Now: now, TempDir: t.TempDir()}
	size, err := fs.MinSize(vol)
	if err != nil {
		t.Fatalf("MinSize() error = %v", err)
	}
	vol.Size = size
	l, err := fs.Build(vol)
	if err != nil {
		t.Fatalf("Build(MinSize %d) error = %v", size, err)
	}
	defer release(l)
	if _, err := fs.Variant(l.Variant); err != nil {
		t.Errorf("Build() variant: %v", err)
	}
	if l.Label == "" {
		t.Errorf("Build() Label = %q, want the label as written", l.Label)
	}
	img := filepath.Join(t.TempDir(), fs.Name+".img")
	imagetest.WriteLayout(t, img, 0, size, l, true)
	imagetest.Fsck(t, fs.Name, img)
}

// release runs a layout's Cleanup, if any.
func release(l *fsimage.Layout) {
	if l != nil && l.Cleanup != nil {
		l.Cleanup()
	}
}

// TestLookup: every listed name is found, and an unknown one is an error
// that lists them all.
func TestLookup(t *testing.T) {
	for _, name := range Names() {
		if fs, err := Lookup(name); err != nil || fs.Name != name {
			t.Errorf("Lookup(%q) = %v, %v", name, fs, err)
		}
	}
	_, err := Lookup("ntfs")
	if err == nil || !strings.Contains(err.Error(), strings.Join(Names(), ", ")) {
		t.Errorf("Lookup(ntfs) error = %v, want one listing %s", err, strings.Join(Names(), ", "))
	}
	if err := CheckLabel("ntfs", strings.Repeat("L", 300)); err != nil {
		t.Errorf("CheckLabel(ntfs, ...) = %v, want nil: an unknown type is mkfs's error", err)
	}
}
