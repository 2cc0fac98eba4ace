package steps_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/station"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
)

// piImage makes imagetest.PiDisk with the given table, its zeros dug into
// holes and a block map beside it (so that a stick gets only what mkfs
// wrote), compressed in format ("raw" for none). It returns the image.
func piImage(t *testing.T, dir, table, format string) string {
	t.Helper()
	img := imagetest.PiDisk(t, dir, table)
	imagetest.Run(t, "", "fallocate", "--dig-holes", img)
	src := compress(t, img, format)
	imagetest.Run(t, "", "bmaptool", "create", "-o", src+".bmap", img)
	return src
}

// flashLabelled writes the image with step "image" { body } and verify to
// n fresh image-file sticks (sparse, the image's size) in one station, so
// job.seq counts 1 to n. It returns the receipts and the sticks.
func flashLabelled(t *testing.T, dir, body string, n int) ([]receipts.Receipt, []string) {
	t.Helper()
	src := fmt.Sprintf("station { image_cache = %q }\nprofile \"img\" {\n  step \"image\" {\n%s\n  }\n  step \"verify\" {}\n}\n",
		filepath.Join(dir, "cache"), body)
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource(filepath.Join(dir, "img.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatalf("LoadSource: %s", diags.Error())
	}
	var targets []station.Target
	var sticks []string
	for range n {
		p := looptest.Sparse(t, dir, 200<<20)
		sticks = append(sticks, p)
		targets = append(targets, station.Target{Profile: cfg.Profiles[0], Path: p})
	}
	st := station.New(station.Options{Config: cfg, Receipts: filepath.Join(dir, "r.jsonl"), Board: status.NewBoard(), Log: hclog.NewNullLogger()})
	return st.Flash(context.Background(), targets), sticks
}

// TestImageLabel writes a Raspberry Pi OS-like image (FAT32 boot, ext4
// root, and an exFAT partition) to two sticks with a per-stick label on
// one partition: blkid reads each stick's own label there, the
// filesystem's checker finds the partition clean, verify passed (the
// job is done), and the receipt names the label.
func TestImageLabel(t *testing.T) {
	cases := []struct {
		table, format string
		partition     int
		rules         string
		label         string // an expression of job.seq
		want          [2]string
	}{
		{"mbr", "zstd", 1, "vfat", `format("boot%04d", job.seq)`, [2]string{"BOOT0001", "BOOT0002"}},
		{"gpt", "xz", 2, "ext4", `"rootfs-${job.seq}"`, [2]string{"rootfs-1", "rootfs-2"}},
		{"mbr", "raw", 3, "exfat", `format("Daten %d", job.seq)`, [2]string{"Daten 1", "Daten 2"}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s %s partition %d", c.table, c.format, c.partition), func(t *testing.T) {
			dir := t.TempDir()
			img := piImage(t, dir, c.table, c.format)
			body := fmt.Sprintf("source = %q\nbmap = \"auto\"\nlabel = %s\nlabel_partition = %d", img, c.label, c.partition)
			rcs, sticks := flashLabelled(t, dir, body, 2)
			off := imagetest.PiPartitions[c.partition-1]
			for k, rc := range rcs {
				if rc.Result != receipts.ResultDone || rc.Label != c.want[k] {
					t.Errorf("stick %d: result %q (%s), label %q; want done, %q", k+1, rc.Result, rc.Error, rc.Label, c.want[k])
				}
				if got := imagetest.BlkidLabel(t, sticks[k], off); got != c.want[k] {
					t.Errorf("stick %d: blkid LABEL of partition %d = %q, want %q", k+1, c.partition, got, c.want[k])
				}
				part := imagetest.Extract(t, sticks[k], off, map[int]int64{1: 64 << 20, 2: 64 << 20, 3: 16 << 20}[c.partition])
				imagetest.Fsck(t, c.rules, part)
				os.Remove(part)
			}
		})
	}
}

// TestImageLabelSuperfloppy labels the one volume of an image without a
// partition table (label_partition = 0): the label's sector is the
// plan's first extent, before any of the image's.
func TestImageLabelSuperfloppy(t *testing.T) {
	dir := t.TempDir()
	img := compress(t, imagetest.Mkfs(t, dir, "fat16", 32, "OLD"), "gzip")
	rcs, sticks := flashLabelled(t, dir, fmt.Sprintf("source = %q\nlabel = \"S${job.seq}\"\nlabel_partition = 0", img), 1)
	if rc := rcs[0]; rc.Result != receipts.ResultDone || rc.Label != "S1" {
		t.Fatalf("result %q (%s), label %q; want done, S1", rc.Result, rc.Error, rc.Label)
	}
	if got := imagetest.BlkidLabel(t, sticks[0], 0); got != "S1" {
		t.Errorf("blkid LABEL = %q, want S1", got)
	}
	part := imagetest.Extract(t, sticks[0], 0, 32<<20)
	imagetest.Fsck(t, "vfat", part)
}

// TestImageLabelFailsBeforeWriting: a label that partition's filesystem
// cannot hold, or a partition without a filesystem, where validate could
// not read them (past the first 64 KiB of a compressed image), fail the
// job before anything is written.
func TestImageLabelFailsBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	img := piImage(t, dir, "mbr", "zstd")
	for _, c := range []struct {
		body, want string
	}{
		{"label = \"TWELVE-CHARS\"\nlabel_partition = 1", `nothing written: label "TWELVE-CHARS": fat: volume label "TWELVE-CHARS" is 12 characters long`},
		{"label = \"X\"\nlabel_partition = 4", "nothing written: label \"X\": partition 4 holds no filesystem flashpipe knows (is it formatted?)"},
	} {
		rcs, sticks := flashLabelled(t, dir, fmt.Sprintf("source = %q\n%s", img, c.body), 1)
		if rc := rcs[0]; rc.Result != receipts.ResultFailed || !strings.Contains(rc.Error, c.want) || rc.BytesWritten != 0 {
			t.Errorf("%s: result %q, error %q, %d bytes written; want failed, %q, nothing written", c.body, rc.Result, rc.Error, rc.BytesWritten, c.want)
		}
		if got := imagetest.BlkidLabel(t, sticks[0], 0); got != "" {
			t.Errorf("%s: the stick holds something: LABEL %q", c.body, got)
		}
	}
}

// TestImageLabelValidate: what validate can tell, it tells, with the
// attribute in the range: in a raw image it reads every partition's
// filesystem; in a compressed one the partition table (its first 64 KiB),
// and a label must fit at least one filesystem a partition can hold.
func TestImageLabelValidate(t *testing.T) {
	dir := t.TempDir()
	raw := piImage(t, dir, "gpt", "raw")
	zst := compress(t, raw, "zstd")
	floppy := compress(t, imagetest.Mkfs(t, dir, "fat12", 4, "OLD"), "zstd")
	// An ext4 partition that starts 512 bytes before the end of the first
	// 64 KiB: its superblock lies past them.
	straddle := looptest.Sparse(t, dir, 8<<20)
	imagetest.Run(t, "label: dos\nstart=127, size=8192, type=83\n", "sfdisk", "-q", straddle)
	imagetest.Place(t, straddle, imagetest.Mkfs(t, dir, "ext4", 4, "", "-b", "1024"), 127*512)
	straddle = compress(t, straddle, "zstd")
	for _, c := range []struct {
		img, body string
		want      string // "summary at attribute", or "" for none
	}{
		{raw, "label = \"BOOT\"\nlabel_partition = 1", ""},
		{raw, "label = \"seventeen-bytes-x\"\nlabel_partition = 2", "Invalid volume label at label"},
		{raw, "label = \"TWELVE_CHARS\"\nlabel_partition = 1", "Invalid volume label at label"},
		{raw, "label = \"TWELVE_CHARS\"\nlabel_partition = 2", ""},
		{raw, "label = \"X\"\nlabel_partition = 4", "Partition cannot be labelled at label_partition"},
		{raw, "label = \"X\"\nlabel_partition = 7", "No such partition at label_partition"},
		{raw, "label = \"X\"\nlabel_partition = 0", "No such partition at label_partition"},
		{raw, "label = format(\"EXPO%03d\", job.seq)\nlabel_partition = 3", ""},
		{raw, "label = format(\"EXPOHALL%03d\", job.seq)\nlabel_partition = 3", "Volume label fails on some sticks at label"},
		{zst, "label = \"X\"\nlabel_partition = 7", "No such partition at label_partition"},
		{zst, "label = \"X\"\nlabel_partition = 4", ""},
		{zst, "label = \"TWELVE_CHARS\"\nlabel_partition = 1", ""},
		{zst, "label = \"seventeen-bytes-x\"\nlabel_partition = 1", "Invalid volume label at label"},
		{floppy, "label = \"TWELVE_CHARS\"\nlabel_partition = 0", "Invalid volume label at label"},
		{floppy, "label = \"X\"\nlabel_partition = 1", "No such partition at label_partition"},
		{straddle, "label = \"X\"\nlabel_partition = 1", ""},
		{straddle, "label = \"seventeen-bytes-x\"\nlabel_partition = 1", "Invalid volume label at label"},
		{raw, "label = \"X\"", "Missing label_partition at label"},
		{raw, "label_partition = 1", "label_partition without label at label_partition"},
		{raw, "label = \"X\"\nlabel_partition = -1", "Invalid partition number at label_partition"},
		{raw, "label = device.serail\nlabel_partition = 1", "Unknown attribute device.serail at label"},
	} {
		src := fmt.Sprintf("profile \"p\" {\n  step \"image\" {\n    source = %q\n%s\n  }\n  step \"verify\" {}\n}\n", c.img, c.body)
		_, diags := pipeline.NewLoader(steps.Builtin()).LoadSource(filepath.Join(dir, "v.hcl"), []byte(src))
		var got []string
		for _, d := range diags {
			attr := "?"
			if d.Subject != nil {
				line := strings.Split(src, "\n")[d.Subject.Start.Line-1]
				attr, _, _ = strings.Cut(strings.TrimSpace(line), " ")
			}
			got = append(got, d.Summary+" at "+attr)
		}
		if want := []string{c.want}; strings.Join(got, "; ") != c.want {
			t.Errorf("%s (%s): diagnostics %q, want %q\n%s", c.body, filepath.Base(c.img), got, want, diags.Error())
		}
	}
}

// TestImageLabelDescribe: plan names the label, the partition and the
// filesystem validate found there.
func TestImageLabelDescribe(t *testing.T) {
	dir := t.TempDir()
	img := imagetest.Mkfs(t, dir, "fat16", 32, "OLD")
	src := fmt.Sprintf("profile \"p\" {\n  step \"image\" {\n    source = %q\n    label = upper(\"s${job.seq}\")\n    label_partition = 0\n  }\n  step \"verify\" {}\n}\n", img)
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource(filepath.Join(dir, "d.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	step := cfg.Profiles[0].Stages[0].Steps[0].Step.(pipeline.Describer)
	d := step.Describe(nil, func(e hcl.Expression) string { return string(e.Range().SliceBytes([]byte(src))) })
	if want := `; label upper("s${job.seq}") on the image's volume (fat16)`; !strings.HasSuffix(d, want) {
		t.Errorf("Describe() = %q, want it to end %q", d, want)
	}
}

// TestImageLabelReplacesLabelStep: a label step beside an image says
// where the label goes instead.
func TestImageLabelReplacesLabelStep(t *testing.T) {
	_, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("t.hcl", []byte(`profile "p" {
  step "image" { source = "x.img" }
  step "label" { label = "X" }
  step "verify" {}
}`))
	if !diags.HasErrors() || diags[0].Summary != `Step "label" cannot be combined with step "image"` ||
		!strings.Contains(diags[0].Detail, `write label and label_partition in step "image" instead`) {
		t.Errorf("diagnostics %v, want the label step refused, pointing at the image step's label", diags)
	}
}
