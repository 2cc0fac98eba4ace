package fsimage

import (
	"fmt"
	"strings"
)

// windowsDevices are the names Windows reserves for devices in every
// directory, as Microsoft's "Naming Files, Paths, and Namespaces" lists
// them: CON, PRN, AUX, NUL, COM1–COM9 and LPT1–LPT9, and COM and LPT with
// the superscript digits ¹ ² ³ (which Windows counts as digits).
var windowsDevices = func() map[string]bool {
	m := map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true}
	for _, d := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³"} {
		m["COM"+d], m["LPT"+d] = true, true
	}
	return m
}()

// WindowsNameProblem returns why Windows cannot open a file or folder
// called name (one path component) on a FAT or exFAT stick, or "". The
// filesystems hold such names and fsck passes, but Windows resolves them
// to something else:
//
//   - a reserved device name, in any case, alone or followed by an
//     extension (NUL.txt and NUL.tar.gz are NUL), also with spaces before
//     the dot ("CON .txt"): Windows opens the device;
//   - a name ending in a dot or a space: Windows drops them and opens
//     another name.
func WindowsNameProblem(name string) string {
	base, _, _ := strings.Cut(name, ".")
	if dev := strings.ToUpper(strings.TrimRight(base, " ")); windowsDevices[dev] {
		return fmt.Sprintf("%s is a device name Windows reserves (CON, PRN, AUX, NUL, COM1–COM9, LPT1–LPT9, with or without an extension): Windows cannot open the file", dev)
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return "the name ends in a dot or a space, which Windows drops: Windows cannot open the file"
	}
	return ""
}
