package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/matchers"
)

const evilName = "evil\x1b]0;PWNED\x07\x1b[2J"

// TestOutputEscapesControlCharacters: paths, serials and vendor strings
// holding terminal control sequences reach flashpipe's output escaped —
// in an error message, in a diagnostic and in `flashpipe devices`.
func TestOutputEscapesControlCharacters(t *testing.T) {
	dir := t.TempDir()
	check := func(what, out string) {
		t.Helper()
		if strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `evil\x1b]0;PWNED\a\x1b[2J`) {
			t.Errorf("%s = %q, want the name shown escaped and no control character", what, out)
		}
	}
	_, _, errs := runCLI(t, "report", filepath.Join(dir, evilName+".jsonl"))
	check("report of a missing file: stderr", errs)

	hclPath := strings.NewReplacer("\x1b", `\u001b`, "\x07", `\u0007`).Replace(filepath.Join(dir, evilName))
	station := writeFile(t, dir, "station.hcl", fmt.Sprintf(`source "c" { paths = ["%s"] }
profile "p" {
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
}
`, hclPath))
	_, _, errs = runCLI(t, "validate", station)
	check("validate with a missing content path: stderr", errs)

	var out bytes.Buffer
	writeDevices(&out, []*matchers.Device{{Name: "sdb", Bus: "usb", Serial: evilName, Port: "1-1", Size: 1 << 30}}, matchers.Guard{}, nil)
	check("writeDevices", out.String())
	out.Reset()
	writePorts(&out, []matchers.Port{{Path: "1-1", InUse: true, Product: evilName}}, nil)
	check("writePorts", out.String())
}
