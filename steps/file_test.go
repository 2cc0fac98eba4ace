package steps_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/hashicorp/hcl/v2"
)

// fileProfile copies shared content and generates three files: a README
// from a template naming the stick's serial and job, a binary file from
// base64 (its size follows the key: it sorts before shared files), and a
// licence key from a pool.
const fileProfile = `
source "c" { paths = [%q] }
pool "keys" { csv = %q }
profile "p" {
  step "partition" { table = "mbr" }
  step "mkfs" { type = %q }
  step "copy" { sources = [source.c] }
  step "file" {
    path    = "/docs/README.txt"
    content = templatefile(%q, { event = "EXPO" })
  }
  step "file" {
    path           = "bin/blob.dat"
    content_base64 = base64encode("\u00ff\u0001${pool.keys.row.key}")
  }
  step "file" {
    path    = "/licence-${job.seq}.txt"
    content = "${pool.keys.row.key}\n"
    mtime   = "2020-01-02T03:04:06Z"
  }
  step "file" {
    path           = "/logo.bin"
    content_base64 = filebase64(%q)
  }
  step "verify" {}
}
`

// fileFixture writes content, a pool and a template into a folder and
// returns the station file's text for filesystem fs.
func fileFixture(t *testing.T, fs string) string {
	t.Helper()
	dir := t.TempDir()
	content := filepath.Join(dir, "content")
	os.MkdirAll(filepath.Join(content, "docs"), 0o755)
	big := make([]byte, 300_000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	os.WriteFile(filepath.Join(content, "big.bin"), big, 0o644)
	os.WriteFile(filepath.Join(content, "docs", "guide.txt"), []byte("guide\n"), 0o644)
	keys := filepath.Join(dir, "keys.csv")
	os.WriteFile(keys, []byte("key\nAAAA-1111\nBBBB-2222\n"), 0o644)
	tmpl := filepath.Join(dir, "readme.tmpl")
	os.WriteFile(tmpl, []byte("${event}: stick ${device.serial}, job ${job.seq}, key ${pool.keys.row.key}\n"), 0o644)
	logo := filepath.Join(dir, "logo.bin")
	os.WriteFile(logo, []byte{0, 1, 2, 0xfe, 0xff}, 0o644)
	return fmt.Sprintf(fileProfile, content, keys, fs, tmpl, logo)
}

// runJob prepares, writes and verifies one job on target.
func runJob(t *testing.T, j *pipeline.Job) (pipeline.Outcome, error) {
	t.Helper()
	ctx := context.Background()
	p := j.Profile
	if err := p.Stages[0].Runner.(pipeline.Preparer).Prepare(ctx, j); err != nil {
		return pipeline.Outcome{}, err
	}
	out, err := p.Stages[0].Runner.Run(ctx, j)
	if err != nil {
		return out, err
	}
	v, err := p.Stages[1].Runner.Run(ctx, j)
	if err == nil && !v.Verify.OK {
		err = fmt.Errorf("verify: %+v", v.Verify)
	}
	return out, err
}

// TestFileStepOnLoopDevice writes a stick with generated files to a real
// loop device and reads them back with the filesystems' own tools:
// fsck.fat and mtools for vfat, fsck.exfat and exfat-fuse for exfat.
func TestFileStepOnLoopDevice(t *testing.T) {
	looptest.Require(t)
	for _, fs := range []string{"vfat", "exfat"} {
		t.Run(fs, func(t *testing.T) {
			cfg := load(t, fileFixture(t, fs))
			dir := t.TempDir()
			const size = 48 << 20
			backing := looptest.Sparse(t, dir, size)
			dev := looptest.Attach(t, backing, 0)
			j := &pipeline.Job{Seq: 7, Config: cfg, Profile: cfg.Profiles[0], Target: dev, Now: time.Now(),
				Device: &matchers.Device{Name: filepath.Base(dev), Serial: "SER-0042", Bus: "loop", Size: size},
				Rows:   map[string]map[string]string{"keys": {"key": "BBBB-2222"}}}
			defer j.Close()
			out, err := runJob(t, j)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"docs/README.txt": "EXPO: stick SER-0042, job 7, key BBBB-2222\n",
				"bin/blob.dat":    "\u00ff\u0001BBBB-2222",
				"licence-7.txt":   "BBBB-2222\n",
				"logo.bin":        "\x00\x01\x02\xfe\xff",
			}
			got := map[string]string{}
			for _, f := range out.Files {
				got[f.Path] = f.SHA1
			}
			for p, content := range want {
				sum := sha1.Sum([]byte(content))
				if got[p] != hex.EncodeToString(sum[:]) {
					t.Errorf("outcome's SHA1 of %s = %q, want %x", p, got[p], sum)
				}
			}
			if len(out.Files) != len(want) {
				t.Errorf("outcome lists %d generated files, want %d: %+v", len(out.Files), len(want), out.Files)
			}
			vol := imagetest.Extract(t, backing, j.Plan.Partition.Offset, j.Plan.Partition.Length)
			imagetest.Fsck(t, fs, vol)
			read := readVfat
			if fs == "exfat" {
				read = readExfat
			}
			for p, content := range want {
				if b := read(t, vol, p); b != content {
					t.Errorf("%s read back = %q, want %q", p, b, content)
				}
			}
			if b := read(t, vol, "docs/guide.txt"); b != "guide\n" {
				t.Errorf("shared docs/guide.txt beside a generated file = %q", b)
			}
		})
	}
}

func readVfat(t *testing.T, vol, p string) string {
	t.Helper()
	testreq.Tool(t, "mtype")
	b, err := exec.Command("mtype", "-i", vol, "::/"+p).Output()
	if err != nil {
		t.Fatalf("mtype %s: %v", p, err)
	}
	return string(b)
}

func readExfat(t *testing.T, vol, p string) string {
	t.Helper()
	dev := looptest.Attach(t, vol, 0)
	mnt, umount := imagetest.MountExFAT(t, dev, false)
	defer umount()
	b, err := os.ReadFile(filepath.Join(mnt, p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSharedExtentsIdenticalAcrossSticks compiles one profile for two
// sticks whose generated files differ in size: the shared content's data
// sits at the same offsets on both, and only generated runs, folders and
// FATs differ.
func TestSharedExtentsIdenticalAcrossSticks(t *testing.T) {
	for _, fs := range []string{"vfat", "exfat"} {
		t.Run(fs, func(t *testing.T) {
			cfg := load(t, fileFixture(t, fs))
			shared := func(serial, key string) map[string]int64 {
				s := newStick(t, cfg, 1)
				s.j.Device = &matchers.Device{Name: "sdb", Serial: serial, Bus: "usb", Size: 40 << 20}
				s.j.Rows = map[string]map[string]string{"keys": {"key": key}}
				if err := s.j.Profile.Stages[0].Runner.(pipeline.Preparer).Prepare(context.Background(), s.j); err != nil {
					t.Fatal(err)
				}
				runs := map[string]int64{}
				for _, r := range s.j.Plan.Files {
					if !r.Entry.Generated {
						runs[r.Entry.Path] = r.Offset
					}
				}
				return runs
			}
			a := shared("A", "short")
			b := shared("A-MUCH-LONGER-SERIAL-NUMBER-0123456789", strings.Repeat("long key ", 2000))
			if len(a) != 2 || fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("shared file runs differ between sticks: %v and %v", a, b)
			}
		})
	}
}

// TestSharedExtentsWhateverTheNames: generated files whose names differ
// in length from stick to stick (a serial in the name) and a generated
// folder named after the stick do not move the shared content: its file
// runs and its folders sit at the same offsets on every stick, whether a
// long name would have made its folder grow by a cluster or not. Shared
// folders of K files are tried for several K, so that one of them sits at
// a cluster's edge.
func TestSharedExtentsWhateverTheNames(t *testing.T) {
	const profile = `
source "c" { paths = [%q] }
profile "p" {
  step "partition" { table = "mbr" }
  step "mkfs" { type = %q }
  step "copy" { sources = [source.c] }
  step "file" {
    path    = "/docs/${device.serial}.txt"
    content = "key"
  }
  step "file" {
    path    = "/${device.serial}/readme.txt"
    content = "readme"
  }
  step "verify" {}
}
`
	for _, fs := range []string{"vfat", "exfat"} {
		for _, k := range []int{20, 40, 55, 60, 100, 120, 125} {
			content := filepath.Join(t.TempDir(), "content")
			os.MkdirAll(filepath.Join(content, "docs"), 0o755)
			for i := range k {
				os.WriteFile(filepath.Join(content, "docs", fmt.Sprintf("F%03d.TXT", i)), []byte("shared\n"), 0o644)
			}
			os.WriteFile(filepath.Join(content, "zz.bin"), make([]byte, 70_000), 0o644)
			cfg := load(t, fmt.Sprintf(profile, content, fs))
			layout := func(serial string) (string, []string) {
				s := newStick(t, cfg, 1)
				s.j.Device = &matchers.Device{Name: "sdb", Serial: serial, Bus: "usb", Size: 40 << 20}
				if err := s.j.Profile.Stages[0].Runner.(pipeline.Preparer).Prepare(context.Background(), s.j); err != nil {
					t.Fatal(err)
				}
				var runs, dirs []string
				for _, r := range s.j.Plan.Files {
					if !r.Entry.Generated {
						runs = append(runs, fmt.Sprintf("%s@%d", r.Entry.Path, r.Offset))
					}
				}
				for _, x := range s.j.Plan.Extents {
					if strings.Contains(x.What, "dir") && !strings.Contains(x.What, serial) {
						dirs = append(dirs, fmt.Sprintf("%s@%d+%d", x.What, x.Offset, x.Length))
					}
				}
				return strings.Join(runs, " "), dirs
			}
			shortRuns, shortDirs := layout("S")
			longRuns, longDirs := layout(strings.Repeat("L", 200))
			if shortRuns != longRuns {
				t.Errorf("%s, %d shared files in /docs: shared runs with a short generated name:\n%s\nwith a long one:\n%s", fs, k, shortRuns, longRuns)
			}
			if fmt.Sprint(shortDirs) != fmt.Sprint(longDirs) {
				t.Errorf("%s, %d shared files in /docs: shared folders with a short generated name: %v\nwith a long one: %v", fs, k, shortDirs, longDirs)
			}
		}
	}
}

// TestVerifyCoversGeneratedFiles flips a byte of a generated file on the
// stick: verify fails and names the file.
func TestVerifyCoversGeneratedFiles(t *testing.T) {
	cfg := load(t, fileFixture(t, "vfat"))
	s := newStick(t, cfg, 3)
	s.j.Rows = map[string]map[string]string{"keys": {"key": "AAAA-1111"}}
	if _, err := runJob(t, s.j); err != nil {
		t.Fatal(err)
	}
	var run fsimage.FileRun
	for _, r := range s.j.Plan.Files {
		if r.Entry.Path == "licence-3.txt" {
			run = r
		}
	}
	if run.Entry == nil {
		t.Fatalf("no run of licence-3.txt in the plan")
	}
	flip(t, s.j.Target, run.Offset+1)
	s.j.Dev.Close()
	s.j.Dev = nil
	out, err := s.j.Profile.Stages[1].Runner.Run(context.Background(), s.j)
	if !errors.Is(err, steps.ErrVerifyFailed) || len(out.Verify.FailedFiles) != 1 || out.Verify.FailedFiles[0].Path != "licence-3.txt" {
		t.Fatalf("verify after flipping a byte of licence-3.txt: %v, %+v; want it failed, naming the file", err, out.Verify)
	}
}

// TestFileStepFailsBeforeWriting: a generated path the shared content
// already has fails the job at Prepare, with nothing written.
func TestFileStepFailsBeforeWriting(t *testing.T) {
	content := contentDir(t)
	cfg := load(t, fmt.Sprintf(`
source "c" { paths = [%q] }
profile "p" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "file" {
    path    = "/A.TXT"
    content = "x"
  }
  step "verify" {}
}`, content))
	s := newStick(t, cfg, 1)
	err := s.j.Profile.Stages[0].Runner.(pipeline.Preparer).Prepare(context.Background(), s.j)
	if err == nil || !strings.Contains(err.Error(), "a.txt") {
		t.Fatalf("Prepare with a generated file over a.txt = %v, want an error naming a.txt", err)
	}
}

// TestTemplateChecksAtLoad: validate parses the templates file steps read
// and checks their references, with ranges in the template file.
func TestTemplateChecksAtLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.tmpl")
	os.WriteFile(good, []byte("line one\n${devic.serial} ${who}\n"), 0o644)
	bad := filepath.Join(dir, "bad.tmpl")
	os.WriteFile(bad, []byte("ok\nok\n%{ if }\n"), 0o644)
	_, diags := pipeline.NewLoader(steps.Builtin()).LoadSource(filepath.Join(dir, "t.hcl"), []byte(`
profile "p" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "file" {
    path    = "/a.txt"
    content = templatefile("good.tmpl", { who = "x" })
  }
  step "file" {
    path    = "/b.txt"
    content = templatefile("bad.tmpl", {})
  }
  step "file" {
    path    = "/c.txt"
    content = templatefile("none.tmpl", {})
  }
  step "verify" {}
}`))
	var got []string
	for _, d := range diags {
		if d.Severity == hcl.DiagError && d.Subject != nil {
			got = append(got, fmt.Sprintf("%s:%d %s", filepath.Base(d.Subject.Filename), d.Subject.Start.Line, d.Summary))
		}
	}
	want := []string{"good.tmpl:2 Unknown variable", "bad.tmpl:3 Invalid expression", "t.hcl:15 Cannot read template"}
	for _, w := range want {
		if !strings.Contains(strings.Join(got, "\n"), w) {
			t.Errorf("diagnostics = %q, want one %q", got, w)
		}
	}
	for _, g := range got {
		if strings.Contains(g, "who") {
			t.Errorf("diagnostic %q: who is a variable the call gives the template", g)
		}
	}
}

// TestLabelFromPoolRows: a label made of pool rows is checked at load with
// every row — a valid one passes, one row too long for FAT is a warning
// naming the row, no valid row is an error — and, with the pool file not
// read (validate --skip-content), its references pass unchecked.
func TestLabelFromPoolRows(t *testing.T) {
	const src = `
pool "keys" { csv = "keys.csv" }
profile "p" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "label" { label = "K${pool.keys.row.key}" }
  step "file" {
    path    = "/key.txt"
    content = pool.keys.row.key
  }
  step "verify" {}
}`
	for _, tc := range []struct {
		name, rows string
		skip       bool
		want       string // "" = no diagnostic; else severity and summary
	}{
		{"valid", "key\nA1\nB2\n", false, ""},
		{"one too long", "key\nA1\nTHIS-IS-TOO-LONG\nB2\n", false, "warning: Volume label fails for some pool rows"},
		{"none valid", "key\nTHIS-IS-TOO-LONG\n", false, "error: Invalid volume label"},
		{"not read", "", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.rows != "" {
				os.WriteFile(filepath.Join(dir, "keys.csv"), []byte(tc.rows), 0o644)
			}
			l := pipeline.NewLoader(steps.Builtin())
			l.SkipContent = tc.skip
			_, diags := l.LoadSource(filepath.Join(dir, "t.hcl"), []byte(src))
			var got []string
			for _, d := range diags {
				sev := map[hcl.DiagnosticSeverity]string{hcl.DiagError: "error", hcl.DiagWarning: "warning"}[d.Severity]
				got = append(got, sev+": "+d.Summary)
			}
			if tc.want == "" && len(got) > 0 || tc.want != "" && (len(got) != 1 || got[0] != tc.want) {
				t.Fatalf("diagnostics = %q, want %q\n%s", got, tc.want, diags.Error())
			}
			if tc.name == "one too long" && !strings.Contains(diags.Error(), "row 2 of pool") {
				t.Errorf("warning %q does not name row 2", diags.Error())
			}
		})
	}
}

// TestFileStepExt4: mke2fs -d reads the generated files from temporary
// files (the builder reads sources); e2fsck finds the volume clean and
// debugfs reads them back.
func TestFileStepExt4(t *testing.T) {
	testreq.Tools(t, "mke2fs", "debugfs")
	cfg := load(t, fileFixture(t, "ext4"))
	s := newStick(t, cfg, 3)
	s.j.Device = &matchers.Device{Name: "sdb", Serial: "EXT-1", Bus: "usb", Size: 40 << 20}
	s.j.Rows = map[string]map[string]string{"keys": {"key": "AAAA-1111"}}
	if _, err := runJob(t, s.j); err != nil {
		t.Fatal(err)
	}
	vol := imagetest.Extract(t, s.j.Target, s.j.Plan.Partition.Offset, s.j.Plan.Partition.Length)
	imagetest.Fsck(t, "ext4", vol)
	for p, want := range map[string]string{
		"/licence-3.txt":   "AAAA-1111\n",
		"/docs/README.txt": "EXPO: stick EXT-1, job 3, key AAAA-1111\n",
	} {
		out, err := exec.Command("debugfs", "-R", "cat "+p, vol).Output()
		if err != nil || string(out) != want {
			t.Errorf("debugfs cat %s = %q (%v), want %q", p, out, err, want)
		}
	}
}
