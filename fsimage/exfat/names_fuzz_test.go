package exfat

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/flashpipe/flashpipe/fsimage"
)

// FuzzNames checks exFAT's name handling on two names in one folder: an
// accepted name obeys every rule and encodes to the UTF-16 units it
// stands for; Build refuses exactly the names checkName or Windows refuse,
// naming each, and refuses the pair when they are one name ignoring case
// (by the up-case table) and only then; a label is at most 11 units.
// Seeds: testdata/fuzz/FuzzNames.
//
//	go test ./fsimage/exfat -run '^$' -fuzz FuzzNames -fuzztime 60s
func FuzzNames(f *testing.F) {
	f.Add("Readme.txt", "README.TXT")
	f.Add("aux.txt", "ok ")
	up := theUpcase()
	f.Fuzz(func(t *testing.T, a, b string) {
		var reasons [2]string
		var keys [2]string
		for i, name := range []string{a, b} {
			units, reason := checkName(name)
			if reason == "" {
				if !slices.Equal(units, utf16.Encode([]rune(name))) || len(units) > maxNameUnits || strings.ContainsAny(name, badNameChars) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 }) {
					t.Fatalf("checkName(%q) = %v, accepted a name exFAT cannot hold", name, units)
				}
				keys[i] = upcaseKey(up, units)
				reason = fsimage.WindowsNameProblem(name)
			}
			reasons[i] = reason
			if l, err := CheckLabel(name); err == nil && len(l) > maxLabelUnits {
				t.Fatalf("CheckLabel(%q) = %d units, want at most %d", name, len(l), maxLabelUnits)
			}
		}
		if a == b || strings.Contains(a+b, "/") || a == "" || b == "" {
			return
		}
		_, err := Build(fsimage.Volume{Size: 8 << 20, SectorSize: 512, Entries: []*fsimage.Entry{{Path: a, Size: 1}, {Path: b, Size: 1}}})
		want := map[string]bool{}
		for i, name := range []string{a, b} {
			if reasons[i] != "" {
				want[name] = true
			}
		}
		if reasons[0] == "" && reasons[1] == "" && keys[0] == keys[1] {
			want[a], want[b] = true, true
		}
		var bn *fsimage.BadNamesError
		if len(want) == 0 {
			if err != nil {
				t.Fatalf("Build(files %q and %q) = %v, want success", a, b, err)
			}
			return
		}
		if !errors.As(err, &bn) {
			t.Fatalf("Build(files %q and %q) = %v, want a BadNamesError naming %v", a, b, err, want)
		}
		got := map[string]bool{}
		for _, n := range bn.Names {
			got[n.Path] = true
		}
		if !maps.Equal(got, want) {
			t.Fatalf("Build(files %q and %q) refused %v, want %v", a, b, got, want)
		}
	})
}
