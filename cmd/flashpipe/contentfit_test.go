package main

import (
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage/compile"
)

// TestContentFitPerFilesystem: validate checks that content fits the
// smallest matching stick on every filesystem flashpipe lays out itself,
// and skips the check where the layout runs host programs
// (fsimage.Filesystem.Tools: ext4's mke2fs), which a machine that only
// validates station files need not have: PATH is empty here.
func TestContentFitPerFilesystem(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "content/docs/big.bin", strings.Repeat("x", 4<<20))
	t.Setenv("PATH", t.TempDir())
	for _, fs := range compile.Filesystems() {
		f := writeFile(t, dir, fs.Name+".hcl", strings.NewReplacer(`"vfat"`, `"`+fs.Name+`"`, `profile "p" {`, "profile \"p\" {\n  match {\n    size = \"2MB..\"\n  }").Replace(docsStation))
		code, _, errs := runCLI(t, "validate", f)
		if len(fs.Tools) > 0 {
			if code != 0 {
				t.Errorf("validate of a %s profile without %s in PATH = %d, want 0 (no content-fit check); stderr:\n%s", fs.Name, fs.Tools[0], code, errs)
			}
		} else if code != 1 || !strings.Contains(errs, "Error: Content does not fit the smallest matching stick") {
			t.Errorf("validate of a %s profile with 4 MiB of content for sticks from 2 MB = %d, stderr:\n%s\nwant 1 and \"Content does not fit\"", fs.Name, code, errs)
		}
	}
}

// TestValidateWindowsNames: a content file Windows cannot open (a
// reserved device name, a trailing dot) fails validate for vfat and exfat,
// naming the file and the rule.
func TestValidateWindowsNames(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "content/docs/aux.txt", "a\n")
	writeFile(t, dir, "content/docs/ok.txt", "b\n")
	for _, fs := range []string{"vfat", "exfat"} {
		f := writeFile(t, dir, fs+".hcl", strings.Replace(docsStation, `"vfat"`, `"`+fs+`"`, 1))
		code, _, errs := runCLI(t, "validate", f)
		if code != 1 || !strings.Contains(errs, "Error: Content cannot be laid out") || !strings.Contains(errs, "aux.txt: AUX is a device name Windows reserves") {
			t.Errorf("validate of a %s profile with aux.txt = %d, stderr:\n%s\nwant 1 naming aux.txt and the rule", fs, code, errs)
		}
	}
}
