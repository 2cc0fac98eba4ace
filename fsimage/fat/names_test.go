package fat

import (
	"encoding/binary"
	"testing"
	"unicode/utf16"

	"github.com/flashpipe/flashpipe/fsimage"
)

func TestPlainShort(t *testing.T) {
	for _, tc := range []struct {
		name  string
		short string
		flags byte
		ok    bool
	}{
		{"README.TXT", "README  TXT", 0, true},
		{"readme.txt", "README  TXT", ntLowerBase | ntLowerExt, true},
		{"README.txt", "README  TXT", ntLowerExt, true},
		{"readme.TXT", "README  TXT", ntLowerBase, true},
		{"x", "X          ", ntLowerBase, true},
		{"A~1", "A~1        ", 0, true},
		{"12345678.123", "12345678123", 0, true},
		{"Readme.txt", "", 0, false},    // mixed case
		{"readme.Txt", "", 0, false},    // mixed case extension
		{"123456789.txt", "", 0, false}, // base too long
		{"a.text", "", 0, false},
		{"a.b.c", "", 0, false},
		{".hidden", "", 0, false},
		{"a b.txt", "", 0, false},
		{"a+b.txt", "", 0, false},
		{"é.txt", "", 0, false},
	} {
		s, flags, ok := plainShort(tc.name)
		if ok != tc.ok || (ok && (string(s[:]) != tc.short || flags != tc.flags)) {
			t.Errorf("plainShort(%q) = %q, %#x, %v, want %q, %#x, %v", tc.name, s[:], flags, ok, tc.short, tc.flags, tc.ok)
		}
	}
}

func TestAliases(t *testing.T) {
	dir := &node{}
	a := newAliaser(0)
	a.reserve(dir, packShort("MIXED", "TXT"))
	exact := func(name string) (shortName, bool) {
		base, ext, lossy := aliasBasis(name)
		if lossy {
			return shortName{}, false
		}
		return a.exact(dir, base, ext)
	}
	if s, ok := exact("Mixed.txt"); ok {
		t.Errorf("exact(Mixed.txt) = %q, true with MIXED.TXT taken, want false", s.String())
	}
	if s, ok := exact("Other.Txt"); !ok || s.String() != "OTHER.TXT" {
		t.Errorf("exact(Other.Txt) = %q, %v, want OTHER.TXT, true", s.String(), ok)
	}
	if s, ok := exact("longfilename1.txt"); ok {
		t.Errorf("exact(longfilename1.txt) = %q, true, want false (does not fit 8.3)", s.String())
	}
	alias := func(dir *node, name string) (shortName, error) {
		base, ext, _ := aliasBasis(name)
		return a.alias(dir, base, ext)
	}
	for _, tc := range []struct{ name, want string }{
		{"Mixed.txt", "MIXED~1.TXT"},
		{"longfilename1.txt", "LONGFI~1.TXT"},
		{"longfilename2.txt", "LONGFI~2.TXT"},
		{"my archive.tar.gz", "MYARCH~1.GZ"},
		{".hidden", "HIDDEN~1"},
		{"ünïcödé.txt", "_N_C_D~1.TXT"},
		{"😀.txt", "_~1.TXT"},
		{"a+b,c;d=e[f].txt", "A_B_C_~1.TXT"},
		{"name.longext", "NAME~1.LON"},
	} {
		s, err := alias(dir, tc.name)
		if err != nil || s.String() != tc.want {
			t.Errorf("alias(%q) = %q, %v, want %q", tc.name, s.String(), err, tc.want)
		}
	}
	// Tails grow past 9 and the base shrinks to keep 8 characters.
	var last shortName
	for i := 3; i <= 12; i++ {
		last, _ = alias(dir, "longfilename.txt")
	}
	if got, want := last.String(), "LONGF~12.TXT"; got != want {
		t.Errorf("12th alias of longfilename.txt = %q, want %q", got, want)
	}
}

// TestAliasesNeverShadowNames: a mixed-case name that fits 8.3 keeps its
// upper-cased form as alias even when a long name before it would have
// generated that same "~1" alias; plain 8.3 names are never taken.
func TestAliasesNeverShadowNames(t *testing.T) {
	entries := []*fsimage.Entry{
		{Path: "AAAAAAAAA.txt", Size: 1}, // lossy: AAAAAA~2.TXT
		{Path: "LONGFI~1.TXT", Size: 1},  // plain 8.3 name
		{Path: "aaaaaa~1.Txt", Size: 1},  // mixed case, fits: AAAAAA~1.TXT
		{Path: "longfilename.txt", Size: 1},
	}
	tr, err := buildTree(entries, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.assignAliases(); err != nil {
		t.Fatal(err)
	}
	want := []string{"AAAAAA~2.TXT", "LONGFI~1.TXT", "AAAAAA~1.TXT", "LONGFI~2.TXT"}
	for i, w := range want {
		if got := tr.nodes[i+1].short.String(); got != w {
			t.Errorf("alias of %q = %q, want %q", entries[i].Path, got, w)
		}
	}
}

// TestLFNEntries checks the long-name entries of a name that needs two of
// them and a surrogate pair: order, sequence numbers, the 0x0000 terminator
// and 0xFFFF padding, and the checksum from Microsoft's algorithm.
func TestLFNEntries(t *testing.T) {
	name := "abcdefghijkl😀x" // 12 + 2 + 1 = 15 UTF-16 units: two entries
	short := packShort("ABCDEF~1", "")
	sum := short.checksum()
	// The checksum by the specification's loop, written out independently.
	var want byte
	for _, c := range short {
		want = byte(((uint(want)&1)<<7)|(uint(want)>>1)) + c
	}
	if sum != want {
		t.Fatalf("checksum(%q) = %#x, want %#x", short[:], sum, want)
	}
	b := make([]byte, 2*direntSize)
	putLFN(b, name, sum)
	if b[0] != 0x42 || b[32] != 0x01 {
		t.Fatalf("sequence bytes = %#x, %#x, want 0x42, 0x01", b[0], b[32])
	}
	var units []uint16
	for _, e := range [][]byte{b[32:], b[:32]} {
		if e[11] != 0x0F || e[13] != sum || e[12] != 0 || e[26] != 0 || e[27] != 0 {
			t.Fatalf("entry attr/type/checksum/cluster = %#x/%#x/%#x/%#x, want 0x0f/0/%#x/0", e[11], e[12], e[13], e[26:28], sum)
		}
		for _, off := range lfnOffsets {
			units = append(units, binary.LittleEndian.Uint16(e[off:]))
		}
	}
	enc := utf16.Encode([]rune(name))
	if len(enc) != 15 {
		t.Fatalf("len(utf16(%q)) = %d, want 15", name, len(enc))
	}
	wantUnits := append(append(enc, 0), 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF)
	for i := range units {
		if units[i] != wantUnits[i] {
			t.Fatalf("unit %d = %#04x, want %#04x (all %x)", i, units[i], wantUnits[i], units)
		}
	}
	// A name filling its last entry exactly has neither terminator nor padding.
	b = make([]byte, direntSize)
	putLFN(b, "abcdefghijklm", sum)
	if got := binary.LittleEndian.Uint16(b[30:]); got != 'm' {
		t.Errorf("last unit of a 13-unit name = %#04x, want 'm'", got)
	}
}

func TestCheckLongName(t *testing.T) {
	long := make([]rune, 128)
	for i := range long {
		long[i] = '😀'
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"ok name.txt", true},
		{"😀", true},
		{"a:b", false}, {"a*b", false}, {"a?b", false}, {"a<b", false}, {"a>b", false},
		{"a|b", false}, {`a\b`, false}, {`a"b`, false}, {"a\x01b", false},
		{"trailing.", false}, {"trailing ", false},
		{"CON", false}, {"aux.txt", false}, {"Nul.tar.gz", false}, {"com1", false}, {"LPT9.doc", false},
		{"com¹.txt", false}, {"LPT³", false}, {"con .txt", false},
		{"COM10", true}, {"CONSOLE.txt", true}, {"a.con", true}, {"_nul", true}, {"COM0", true}, {"LPT", true},
		{string(long), false}, // 256 UTF-16 units
		{string(long[:127]), true},
		{"\xff", false},
	} {
		if got := checkLongName(tc.name) == ""; got != tc.ok {
			t.Errorf("checkLongName(%q) = %q, want ok=%v", tc.name, checkLongName(tc.name), tc.ok)
		}
	}
}

func TestCheckLabel(t *testing.T) {
	for _, tc := range []struct{ label, want string }{
		{"", ""}, {"flash", "FLASH"}, {"My Stick 01", "MY STICK 01"}, {"ABC   ", "ABC"}, {"a-b_c!#$%&", "A-B_C!#$%&"},
	} {
		if got, err := CheckLabel(tc.label); err != nil || got != tc.want {
			t.Errorf("CheckLabel(%q) = %q, %v, want %q", tc.label, got, err, tc.want)
		}
	}
	for _, bad := range []string{"TWELVE CHARS", "a.b", "a*b", "a?b", "a/b", "a:b", "é", "a\tb", "a+b", "a=b", "[x]", "a,b", "a;b", `a"b`, "a<b", "a|b"} {
		if got, err := CheckLabel(bad); err == nil {
			t.Errorf("CheckLabel(%q) = %q, nil, want an error", bad, got)
		}
	}
	// The error names the offending character and lists the forbidden
	// ones readably, one apart from the next, without quoting escapes.
	_, err := CheckLabel("A/B")
	want := `fat: volume label "A/B" contains '/'; a FAT label holds printable ASCII except " * + , . / : ; < = > ? [ \ ] |`
	if err == nil || err.Error() != want {
		t.Errorf("CheckLabel(%q) error = %v, want %s", "A/B", err, want)
	}
}
