package pipeline_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// FuzzLoad feeds arbitrary bytes to the loader. It must never panic; every
// diagnostic must carry a source range in the file; a clean load must give
// a usable config whose labels evaluate for a device.
//
//	go test ./pipeline -run '^$' -fuzz FuzzLoad -fuzztime 60s
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/errors/*.hcl", "testdata/valid/*.hcl", "../examples/*.hcl"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("profile \"a\" {\n  step \"wipe\" { mode = \"qu\xffick\" }\n}\n"))
	f.Add([]byte(routingSrc))
	f.Add([]byte(labelSrc))
	reg := newLoader().Registry
	dev := &matchers.Device{Name: "sdb", Bus: "usb", VendorID: 0x0781, ProductID: 1, Serial: "S", Size: 8 << 30, Port: "1-1"}
	f.Fuzz(func(t *testing.T, src []byte) {
		// Files are resolved relative to testdata/ so that relative
		// source paths in the seeds point where they do in the fixtures.
		l := pipeline.NewLoader(reg)
		cfg, diags := l.LoadSource("testdata/errors/fuzz.hcl", src)
		for _, d := range diags {
			if d.Subject == nil {
				t.Fatalf("diagnostic %q has no range", d.Summary)
			}
		}
		if cfg == nil || diags.HasErrors() {
			return
		}
		for _, p := range cfg.Profiles {
			p.Match.Match(dev)
			if p.Write != nil && pipeline.IsSet(p.Write.Label) {
				pipeline.EvalString(p.Write.Label, cfg.DeviceContext(dev, "/dev/sdb", 1, time.Unix(0, 0)))
			}
		}
	})
}

// FuzzAttributes puts arbitrary strings into every attribute that parses
// its value (sizes, ids, globs, durations, enums, labels) of an otherwise
// valid config, where FuzzLoad's byte mutations rarely get past the parser.
// The loader must never panic, and every diagnostic must have a range.
//
//	go test ./pipeline -run '^$' -fuzz FuzzAttributes -fuzztime 60s
func FuzzAttributes(f *testing.F) {
	f.Add("7GiB..64GiB", "0x0781", "4C53*", "1m", "quick", "gpt", "exfat", "128KiB", "EXPO", "/event", "CONTENT")
	f.Add(">= 4GB", "ffff", "[", "-1s", "zero", "mbr", "vfat", "auto", "TWELVE_CHARS", "../x", "")
	f.Add("..", "0x", "{a,b}", "1h30m", "none", "none", "ext4", "4KiB", "a/b", "\\", "ÄÖÜ")
	f.Add("9223372036854775807B..", "12345", "**/[!a]", "9999999h", "discard", "apm", "fat32", "99999999999999999999TiB", "\x00", "//", "x")
	reg := newLoader().Registry
	f.Fuzz(func(t *testing.T, size, id, glob, timeout, mode, table, fs, cluster, label, dest, part string) {
		q := func(s string) string {
			return string(hclwrite.TokensForValue(cty.StringVal(strings.ToValidUTF8(s, "?"))).Bytes())
		}
		src := fmt.Sprintf(`
source "s" {
  paths   = ["testdata/content/docs"]
  include = [%[3]s]
}
profile "p" {
  match {
    size      = %[1]s
    vendor_id = %[2]s
    serial    = %[3]s
  }
  step "wipe" {
    mode    = %[5]s
    timeout = %[4]s
  }
  step "partition" {
    table          = %[6]s
    partition_name = %[11]s
  }
  step "mkfs" {
    type         = %[7]s
    cluster_size = %[8]s
    label        = %[9]s
  }
  step "copy" {
    sources     = [source.s]
    destination = %[10]s
    exclude     = [%[3]s]
  }
  step "label" {
    label = format("%%s%%d", %[9]s, job.seq)
  }
}
`, q(size), q(id), q(glob), q(timeout), q(mode), q(table), q(fs), q(cluster), q(label), q(dest), q(part))
		cfg, diags := pipeline.NewLoader(reg).LoadSource("fuzz.hcl", []byte(src))
		for _, d := range diags {
			if d.Subject == nil {
				t.Fatalf("diagnostic %q has no range", d.Summary)
			}
		}
		if cfg == nil {
			t.Fatalf("LoadSource gave no config for a file that parses:\n%s\n%s", src, dump(diags))
		}
	})
}
