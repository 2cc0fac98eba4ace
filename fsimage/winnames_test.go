package fsimage_test

import (
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
)

// TestWindowsNameProblem pins Microsoft's list of reserved device names
// ("Naming Files, Paths, and Namespaces"), with and without an extension
// and in any case, and the trailing dot and space; names that only look
// like them pass.
func TestWindowsNameProblem(t *testing.T) {
	for _, tc := range []struct {
		name, want string // want: the device named, "end" for a trailing dot or space, "" for fine
	}{
		{"CON", "CON"}, {"con", "CON"}, {"Prn.txt", "PRN"}, {"aux.tar.gz", "AUX"}, {"NUL", "NUL"},
		{"COM1", "COM1"}, {"com9.log", "COM9"}, {"LPT1", "LPT1"}, {"lpt5.x", "LPT5"},
		{"COM¹", "COM¹"}, {"com².txt", "COM²"}, {"LPT³", "LPT³"},
		{"CON .txt", "CON"}, {"nul ", "NUL"},
		{"name.", "end"}, {"name ", "end"}, {"...", "end"},
		{"COM10", ""}, {"COM0", ""}, {"LPT", ""}, {"CONSOLE", ""}, {"a.CON", ""}, {"my aux.txt", ""},
		{".con", ""}, {"COM1x.txt", ""}, {"COM⁴", ""}, {"readme.txt", ""},
	} {
		want := ""
		switch tc.want {
		case "":
		case "end":
			want = "the name ends in a dot or a space, which Windows drops: Windows cannot open the file"
		default:
			want = tc.want + " is a device name Windows reserves (CON, PRN, AUX, NUL, COM1–COM9, LPT1–LPT9, with or without an extension): Windows cannot open the file"
		}
		if got := fsimage.WindowsNameProblem(tc.name); got != want {
			t.Errorf("WindowsNameProblem(%q) = %q, want %q", tc.name, got, want)
		}
	}
}
