//go:build linux

package executor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/compile"
	"github.com/flashpipe/flashpipe/fsimage/ext4"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// sourceTree makes a small content tree and returns its hashed manifest.
func sourceTree(t *testing.T) []*fsimage.Entry {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 40 {
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%4), fmt.Sprintf("Some File %02d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, rng.IntN(300_000))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := manifest.Scan([]manifest.Source{{Paths: []string{dir}}}, manifest.Options{Now: time.Now()})
	if err != nil {
		t.Fatalf("manifest.Scan = %v", err)
	}
	if err := manifest.Hash(context.Background(), entries, nil, nil); err != nil {
		t.Fatalf("manifest.Hash = %v", err)
	}
	return entries
}

// TestCompiledPlans writes real plans from fsimage/compile to a loop device,
// verifies them, and checks the filesystems with fsck (and, where the
// kernel can, a mounted-tree check).
func TestCompiledPlans(t *testing.T) {
	entries := sourceTree(t)
	type planCase struct {
		table, fs string
		ss        int
	}
	cases := []planCase{
		{"mbr", "vfat", 512},
		{"gpt", "vfat", 4096},
		{"gpt", "exfat", 512},
		{"mbr", "ext4", 512},
	}
	for _, name := range compile.Names() {
		if !slices.ContainsFunc(cases, func(c planCase) bool { return c.fs == name }) {
			t.Errorf("filesystem %s (compile.Filesystems) has no case here: add one", name)
		}
	}
	for _, tc := range cases {
		t.Run(tc.table+"-"+tc.fs+"-"+fmt.Sprint(tc.ss), func(t *testing.T) {
			dev, backing := loopDevice(t, 128<<20, tc.ss)
			fill(t, dev.Path, 128<<20, 0xa5)
			plan, err := compile.Build(compile.Spec{Table: tc.table, FS: tc.fs, Label: "FLASHPIPE", Serial: 0x1234abcd,
				Entries: entries, Now: time.Now(), TempDir: t.TempDir()}, dev.Size, dev.LogicalSectorSize)
			if err != nil {
				t.Fatalf("compile.Build = %v", err)
			}
			if plan.Cleanup != nil {
				defer plan.Cleanup()
			}
			if _, err := Write(context.Background(), dev, plan, Options{}); err != nil {
				t.Fatalf("Write = %v", err)
			}
			res, err := Verify(context.Background(), dev, plan, Options{})
			if err != nil || !res.OK {
				t.Fatalf("Verify = %+v, %v, want OK", res, err)
			}
			// fsck the partition through a second loop device at its offset.
			part := attachPart(t, backing, plan.Partition, tc.ss)
			imagetest.Fsck(t, tc.fs, part)
			mc, err := VerifyMount(context.Background(), part, plan.Mount, entries, t.TempDir())
			if err != nil {
				t.Fatalf("VerifyMount = %v", err)
			}
			t.Logf("VerifyMount(%s) = %s", tc.fs, mc)
			if mc.Supported && !mc.OK {
				t.Errorf("VerifyMount(%s) = %+v, want OK", tc.fs, mc)
			}
			if !mc.Supported && (mc.OK || !strings.Contains(mc.Message, "cannot mount")) {
				t.Errorf("VerifyMount(%s) unsupported = %+v, want not OK saying it cannot mount", tc.fs, mc)
			}
		})
	}
}

// attachPart attaches the partition region of backing as its own loop device.
func attachPart(t *testing.T, backing string, r fsimage.Region, ss int) string {
	t.Helper()
	out, err := exec.Command("losetup", "--find", "--show", "--offset", fmt.Sprint(r.Offset),
		"--sizelimit", fmt.Sprint(r.Length), "--sector-size", fmt.Sprint(ss), backing).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup --offset: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { looptest.Detach(dev) })
	return dev
}

// TestVerifyMountFindsDifferences builds ext4 (which this kernel mounts) by
// hand and expects VerifyMount to list a missing, an extra and a changed
// file.
func TestVerifyMountFindsDifferences(t *testing.T) {
	testreq.Tool(t, "mkfs.ext4")
	looptest.Require(t)
	img := looptest.Sparse(t, t.TempDir(), 16<<20)
	run(t, "mkfs.ext4", "-q", "-F", img)
	dev := looptest.Attach(t, img, 0)
	mnt := t.TempDir()
	run(t, "mount", dev, mnt)
	os.MkdirAll(filepath.Join(mnt, "docs"), 0o755)
	os.WriteFile(filepath.Join(mnt, "docs/a.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(mnt, "docs/b.txt"), []byte("changed"), 0o644)
	os.WriteFile(filepath.Join(mnt, "extra.txt"), []byte("x"), 0o644)
	run(t, "umount", mnt)
	tp := &testPlan{files: map[string]*fsimage.Entry{}, src: t.TempDir()}
	entries := []*fsimage.Entry{
		{Path: "docs", Dir: true},
		tp.addFile(t, "docs/a.txt", []byte("hello")),
		tp.addFile(t, "docs/b.txt", []byte("original")),
		tp.addFile(t, "docs/c.txt", []byte("missing")),
	}
	mc, err := VerifyMount(context.Background(), dev, ext4.Filesystem.Mount, entries, mnt)
	if err != nil {
		t.Fatalf("VerifyMount = %v", err)
	}
	if mc.OK || !mc.Supported || !slices.Equal(mc.Missing, []string{"docs/c.txt"}) || !slices.Equal(mc.Extra, []string{"extra.txt"}) ||
		len(mc.Mismatched) != 1 || !strings.HasPrefix(mc.Mismatched[0], "docs/b.txt:") {
		t.Errorf("VerifyMount = %+v, want missing [docs/c.txt], extra [extra.txt], mismatched [docs/b.txt: ...]", mc)
	}
	// Nothing is left mounted.
	if err := exec.Command("mountpoint", "-q", mnt).Run(); err == nil {
		t.Errorf("%s is still mounted after VerifyMount", mnt)
	}
}
