package fat

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/flashpipe/flashpipe/fsimage"
)

// FuzzNames checks FAT's name handling on one name: what checkLongName
// accepts obeys every rule and survives the long-name entries intact; what
// it refuses, Build refuses naming the file; the 8.3 alias basis and the
// plain short name of an accepted name are well formed. Seeds: testdata/fuzz/FuzzNames.
//
//	go test ./fsimage/fat -run '^$' -fuzz FuzzNames -fuzztime 60s
func FuzzNames(f *testing.F) {
	f.Add("Readme.txt")
	f.Add("aux.txt")
	f.Fuzz(func(t *testing.T, name string) {
		reason := checkLongName(name)
		checkBuild(t, name, reason)
		if reason != "" {
			return
		}
		checkAccepted(t, name)
		base, ext, lossy := aliasBasis(name)
		if len(base) < 1 || len(base) > 8 || len(ext) > 3 || !allShort(base) || !allShort(ext) {
			t.Fatalf("aliasBasis(%q) = %q.%q: want 1-8 and 0-3 short-name characters", name, base, ext)
		}
		if joined := strings.TrimSuffix(base+"."+ext, "."); !lossy && joined != strings.ToUpper(name) {
			t.Fatalf("aliasBasis(%q) = %q, not lossy, but the name upper-cased is %q", name, joined, strings.ToUpper(name))
		}
		if s, _, ok := plainShort(name); ok && s.String() != strings.ToUpper(name) {
			t.Fatalf("plainShort(%q) = %q, want the name upper-cased", name, s.String())
		}
	})
}

func allShort(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isShortChar(s[i]) {
			return false
		}
	}
	return true
}

// checkAccepted holds an accepted long name to the rules and round-trips
// it through putLFN.
func checkAccepted(t *testing.T, name string) {
	t.Helper()
	if !utf8.ValidString(name) || utf16Len(name) > maxLongName || strings.ContainsAny(name, `"*/:<>?\|`) || fsimage.WindowsNameProblem(name) != "" {
		t.Fatalf("checkLongName(%q) accepted a name FAT or Windows cannot hold", name)
	}
	for _, r := range name {
		if r < 0x20 {
			t.Fatalf("checkLongName(%q) accepted control character %U", name, r)
		}
	}
	want := utf16.Encode([]rune(name))
	n := lfnSlots(len(want))
	b := make([]byte, n*direntSize)
	putLFN(b, name, 0x5A)
	var got []uint16
	for i := 0; i < n; i++ {
		e := b[(n-1-i)*direntSize:][:direntSize]
		if ord := int(e[0] &^ 0x40); ord != i+1 || (e[0]&0x40 != 0) != (i == n-1) || e[11] != attrLongName || e[13] != 0x5A {
			t.Fatalf("putLFN(%q) entry %d: ordinal %#x, attr %#x, checksum %#x", name, i, e[0], e[11], e[13])
		}
		for _, off := range lfnOffsets {
			got = append(got, binary.LittleEndian.Uint16(e[off:]))
		}
	}
	end := len(want)
	if !slices.Equal(got[:end], want) || (end < len(got) && got[end] != 0) {
		t.Fatalf("putLFN(%q) holds %v, want %v and a 0 terminator", name, got, want)
	}
	for _, u := range got[min(end+1, len(got)):] {
		if u != 0xFFFF {
			t.Fatalf("putLFN(%q) pads with %#x, want 0xFFFF", name, u)
		}
	}
}

// checkBuild builds a volume holding a file called name: it succeeds when
// checkLongName accepted the name and fails naming the file and the
// reason when it did not.
func checkBuild(t *testing.T, name, reason string) {
	t.Helper()
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return // not one path component: tree.go refuses the path itself
	}
	_, err := Build(fsimage.Volume{Size: 64 << 20, SectorSize: 512, Entries: []*fsimage.Entry{{Path: name, Size: 1, Source: "/nonexistent"}}})
	var bn *fsimage.BadNamesError
	switch {
	case reason == "" && err != nil:
		t.Fatalf("Build(a file called %q) = %v; checkLongName accepted the name", name, err)
	case reason != "" && (!errors.As(err, &bn) || len(bn.Names) != 1 || bn.Names[0].Path != name || bn.Names[0].Reason != reason):
		t.Fatalf("Build(a file called %q) = %v, want a BadNamesError naming it: %s", name, err, reason)
	}
}
