package steps_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// load compiles src with the built-in kinds and fails the test on errors.
func load(t *testing.T, src string) *pipeline.Config {
	t.Helper()
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("t.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("LoadSource: %s", diags.Error())
	}
	return cfg
}

// TestDefaultsAtDecode: a step written without its optional attributes
// holds the kind's defaults as soon as it is decoded — not only after its
// Check ran.
func TestDefaultsAtDecode(t *testing.T) {
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("t.hcl", []byte(`
profile "p" {
  step "wipe" {}
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" {
    paths       = ["."]
    destination = "/a/b/"
  }
  step "verify" {}
}`))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	st := cfg.Profiles[0].Steps
	if w := st[0].Step.(*steps.Wipe); w.Mode != "quick" {
		t.Errorf("wipe mode = %q, want quick", w.Mode)
	}
	if p := st[1].Step.(*steps.Partition); p.Table != "mbr" {
		t.Errorf("partition table = %q, want mbr", p.Table)
	}
	if v := st[4].Step.(*steps.Verify); v.Hash != "sha1" || v.What != "all" {
		t.Errorf("verify = %+v, want hash sha1, what all", v)
	}
	if c := st[3].Step.(*steps.Copy); c.Destination != "/a/b/" || cfg.Profiles[0].Write.Copies[0].Destination != "a/b" {
		t.Errorf("copy destination as written %q, in the write %q; want /a/b/ and a/b", c.Destination, cfg.Profiles[0].Write.Copies[0].Destination)
	}
}

// TestBuiltinOrder runs profiles made of the built-in kinds through the
// compiler: the kinds' declarations alone decide what is accepted and
// how a wrong order is reported (one diagnostic per cause).
func TestBuiltinOrder(t *testing.T) {
	for _, tc := range []struct {
		steps string // kinds, in order
		want  []string
	}{
		{"wipe partition mkfs copy copy label verify eject", nil},
		{"partition mkfs label copy verify", nil},
		{"partition mkfs copy verify label", nil}, // label is fused into the write, which runs before verify
		{"wipe eject", nil},
		{"mkfs partition", []string{`Step "mkfs" needs a partition step before it`}},
		{"partition copy", []string{`Step "copy" needs a mkfs step before it`}},
		{"partition wipe mkfs", []string{"Step out of order"}},
		{"partition mkfs verify copy", []string{"Step out of order"}},
		{"verify", []string{`Step "verify" needs a partition, mkfs or copy step before it`}},
		{"partition eject verify", []string{"Step after eject"}},
		{"wipe wipe", []string{"Duplicate wipe step"}},
		{"partition mkfs mkfs", []string{"Duplicate mkfs step"}},
	} {
		var b strings.Builder
		b.WriteString("profile \"p\" {\n")
		for _, k := range strings.Fields(tc.steps) {
			fmt.Fprintf(&b, "  step %q {%s}\n", k, body(k))
		}
		b.WriteString("}\n")
		_, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("t.hcl", []byte(b.String()))
		var got []string
		for _, d := range diags.Errs() {
			got = append(got, d.(*hcl.Diagnostic).Summary)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("profile %q: errors (-want +got):\n%s", tc.steps, diff)
		}
	}
}

// body is the least a step of kind k needs.
func body(k string) string {
	switch k {
	case "mkfs":
		return ` type = "vfat" `
	case "copy":
		return ` paths = ["."] `
	case "label":
		return ` label = "X" `
	}
	return ""
}

// TestRunnersReportOutcomes runs the stages of a profile on an image file,
// as the station does, and checks what each reports: the write its bytes,
// label and manifest; verify what it read back; and, once the image is
// corrupted, a failed verification that says which file.
func TestRunnersReportOutcomes(t *testing.T) {
	dir := t.TempDir()
	content := contentDir(t)
	cfg := load(t, fmt.Sprintf(`
source "c" { paths = [%q] }
profile "p" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "label" { label = "L${job.seq}" }
  step "verify" {}
  step "eject" {}
}`, content))
	p := cfg.Profiles[0]
	img := filepath.Join(dir, "stick.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 40<<20); err != nil {
		t.Fatal(err)
	}
	j := &pipeline.Job{Seq: 7, Config: cfg, Profile: p, Device: matchers.ImageFile(img, 40<<20), Target: img, Now: time.Now()}
	defer j.Close()
	ctx := context.Background()
	write, verify, eject := p.Stages[0], p.Stages[1], p.Stages[2]
	if err := write.Runner.(pipeline.Preparer).Prepare(ctx, j); err != nil {
		t.Fatal(err)
	}
	out, err := write.Runner.Run(ctx, j)
	if err != nil || out.BytesWritten != j.Plan.Bytes() || out.Label != "L7" || out.ManifestDigest == "" {
		t.Errorf("write outcome = %+v, %v; want %d bytes, label L7, a manifest digest", out, err, j.Plan.Bytes())
	}
	out, err = verify.Runner.Run(ctx, j)
	if err != nil || out.Verify == nil || !out.Verify.OK || out.BytesVerified == 0 || out.Verify.Scope != "all" {
		t.Errorf("verify outcome = %+v, %v; want a passed verification of scope all", out, err)
	}

	flip(t, img, j.Plan.Files[0].Offset)
	j.Dev.Close()
	j.Dev = nil
	out, err = verify.Runner.Run(ctx, j)
	if !errors.Is(err, steps.ErrVerifyFailed) || out.Verify == nil || out.Verify.OK || len(out.Verify.FailedFiles) != 1 || out.Verify.FailedFiles[0].Path != "a.txt" {
		t.Errorf("verify of a corrupted image = %+v, %v; want a failed verification naming a.txt", out.Verify, err)
	}
	if _, err := eject.Runner.Run(ctx, j); err == nil || !strings.Contains(err.Error(), "verification failed") {
		t.Errorf("eject after a failed verification = %v, want a refusal", err)
	}
}

// TestDiskIDsAreWhatBlkidReads writes sticks (image files) with each
// table and filesystem and checks the identifiers the write stage reports
// for the receipt against what blkid and sfdisk read from the image.
func TestDiskIDsAreWhatBlkidReads(t *testing.T) {
	testreq.Tools(t, "blkid", "sfdisk", "mke2fs")
	content := contentDir(t)
	for _, table := range []string{"mbr", "gpt"} {
		for _, fs := range []string{"vfat", "exfat", "ext4"} {
			t.Run(table+"-"+fs, func(t *testing.T) {
				cfg := load(t, fmt.Sprintf(`
source "c" { paths = [%q] }
profile "p" {
  step "partition" { table = %q }
  step "mkfs" { type = %q }
  step "copy" { sources = [source.c] }
  step "verify" {}
}`, content, table, fs))
				img := filepath.Join(t.TempDir(), "stick.img")
				if err := os.WriteFile(img, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(img, 64<<20); err != nil {
					t.Fatal(err)
				}
				p := cfg.Profiles[0]
				j := &pipeline.Job{Seq: 3, Config: cfg, Profile: p, Device: matchers.ImageFile(img, 64<<20), Target: img, Now: time.Now()}
				defer j.Close()
				if err := p.Stages[0].Runner.(pipeline.Preparer).Prepare(context.Background(), j); err != nil {
					t.Fatal(err)
				}
				out, err := p.Stages[0].Runner.Run(context.Background(), j)
				if err != nil || out.DiskIDs == nil {
					t.Fatalf("write: %v, ids %v", err, out.DiskIDs)
				}
				disk := blkid(t, img, 0)
				vol := blkid(t, img, j.Plan.Partition.Offset)
				ids := out.DiskIDs
				wantPT := ids.MBRSignature
				if table == "gpt" {
					wantPT = ids.DiskGUID
					if got := partUUID(t, img); !strings.EqualFold(got, ids.PartitionGUID) {
						t.Errorf("sfdisk --part-uuid = %q, receipt partition_guid %q", got, ids.PartitionGUID)
					}
				}
				if !strings.EqualFold(disk["PTUUID"], wantPT) || wantPT == "" {
					t.Errorf("blkid PTUUID = %q, receipt says %q", disk["PTUUID"], wantPT)
				}
				if !strings.EqualFold(vol["UUID"], ids.VolumeID) || ids.VolumeID == "" {
					t.Errorf("blkid UUID = %q, receipt volume_id %q", vol["UUID"], ids.VolumeID)
				}
			})
		}
	}
}

// blkid probes img at byte offset off and returns its export output.
func blkid(t *testing.T, img string, off int64) map[string]string {
	t.Helper()
	out, err := exec.Command("blkid", "-p", "-o", "export", "-O", strconv.FormatInt(off, 10), img).Output()
	if err != nil {
		t.Fatalf("blkid -p -O %d %s: %v", off, img, err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// partUUID returns the GPT unique GUID of img's first partition.
func partUUID(t *testing.T, img string) string {
	t.Helper()
	out, err := exec.Command("sfdisk", "--part-uuid", img, "1").Output()
	if err != nil {
		t.Fatalf("sfdisk --part-uuid %s 1: %v", img, err)
	}
	return strings.TrimSpace(string(out))
}

// TestVerifyCatchesCorruptionOnEveryFilesystem flips one byte of the data
// the write stage wrote — the last data extent of the plan: a file's
// content on FAT and exFAT, a block of mke2fs's image on ext4 — and
// requires verify to fail. (Before, the data of an ext4 stick was never
// compared: no file run covers it.)
func TestVerifyCatchesCorruptionOnEveryFilesystem(t *testing.T) {
	testreq.Tools(t, "mke2fs")
	content := contentDir(t)
	for _, fs := range []string{"vfat", "exfat", "ext4"} {
		t.Run(fs, func(t *testing.T) {
			cfg := load(t, fmt.Sprintf(`
source "c" { paths = [%q] }
profile "p" {
  step "partition" {}
  step "mkfs" { type = %q }
  step "copy" { sources = [source.c] }
  step "verify" {}
}`, content, fs))
			img := filepath.Join(t.TempDir(), "stick.img")
			if err := os.WriteFile(img, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(img, 64<<20); err != nil {
				t.Fatal(err)
			}
			p := cfg.Profiles[0]
			j := &pipeline.Job{Seq: 1, Config: cfg, Profile: p, Device: matchers.ImageFile(img, 64<<20), Target: img, Now: time.Now()}
			defer j.Close()
			ctx := context.Background()
			if err := p.Stages[0].Runner.(pipeline.Preparer).Prepare(ctx, j); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Stages[0].Runner.Run(ctx, j); err != nil {
				t.Fatal(err)
			}
			if out, err := p.Stages[1].Runner.Run(ctx, j); err != nil || !out.Verify.OK {
				t.Fatalf("verify of the stick as written: %v, %+v", err, out.Verify)
			}
			var last fsimage.Extent
			for _, e := range j.Plan.Extents {
				if e.Kind == fsimage.FileData {
					last = e
				}
			}
			flip(t, img, last.Offset+last.Length/2)
			j.Dev.Close()
			j.Dev = nil
			out, err := p.Stages[1].Runner.Run(ctx, j)
			if !errors.Is(err, steps.ErrVerifyFailed) || out.Verify.OK {
				t.Errorf("verify after flipping a byte of %s at %d: %v, ok %v; want a failed verification", last.What, last.Offset+last.Length/2, err, out.Verify.OK)
			}
		})
	}
}

// flip inverts the byte at off in img.
func flip(t *testing.T, img string, off int64) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
