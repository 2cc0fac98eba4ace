package fat

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/flashpipe/flashpipe/fsimage"
)

const maxLongName = 255 // UTF-16 code units

// checkLongName returns why name cannot be a FAT long name, or "".
func checkLongName(name string) string {
	if !utf8.ValidString(name) {
		return "name is not valid UTF-8"
	}
	var bad []string
	for _, r := range name {
		switch {
		case r < 0x20:
			bad = append(bad, fmt.Sprintf("control character %U", r))
		case strings.ContainsRune(`"*/:<>?\|`, r):
			bad = append(bad, fmt.Sprintf("character %q", r))
		}
	}
	var reasons []string
	if len(bad) > 0 {
		reasons = append(reasons, "FAT does not allow "+strings.Join(bad, ", "))
	}
	if why := fsimage.WindowsNameProblem(name); why != "" {
		reasons = append(reasons, why)
	}
	if n := utf16Len(name); n > maxLongName {
		reasons = append(reasons, fmt.Sprintf("name is %d UTF-16 code units long; FAT allows %d", n, maxLongName))
	}
	return strings.Join(reasons, "; ")
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// foldName is the key under which FAT compares names: case-insensitively.
func foldName(name string) string {
	return strings.Map(unicode.ToUpper, name)
}

// isShortChar reports whether c may appear in a short name (upper case,
// ASCII only; space excluded although the format allows it).
func isShortChar(c byte) bool {
	switch {
	case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'()-@^_`{}~", c) >= 0
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

func upper(c byte) byte {
	if isLower(c) {
		return c - 'a' + 'A'
	}
	return c
}

// shortName is an 8.3 name as stored: 8 bytes base, 3 bytes extension,
// space padded.
type shortName [11]byte

func packShort(base, ext string) shortName {
	var s shortName
	for i := range s {
		s[i] = ' '
	}
	copy(s[:8], base)
	copy(s[8:], ext)
	return s
}

func (s shortName) String() string {
	base := strings.TrimRight(string(s[:8]), " ")
	if ext := strings.TrimRight(string(s[8:]), " "); ext != "" {
		return base + "." + ext
	}
	return base
}

// checksum is the long-name entries' checksum of the short name.
func (s shortName) checksum() byte {
	var sum byte
	for _, c := range s {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	return sum
}

// Windows NT case flags in byte 12 of a directory entry.
const (
	ntLowerBase = 0x08
	ntLowerExt  = 0x10
)

// plainShort reports whether name can be stored as a short name alone:
// a valid 8.3 name whose base and extension are each all upper or all lower
// case. It returns the short name and the NT case flags.
func plainShort(name string) (shortName, byte, bool) {
	base, ext, found := strings.Cut(name, ".")
	if len(base) < 1 || len(base) > 8 || len(ext) > 3 || (found && len(ext) == 0) || strings.Contains(ext, ".") {
		return shortName{}, 0, false
	}
	var flags byte
	for i, part := range []string{base, ext} {
		lower, up := false, false
		for j := 0; j < len(part); j++ {
			c := part[j]
			if !isShortChar(upper(c)) {
				return shortName{}, 0, false
			}
			lower = lower || isLower(c)
			up = up || (c >= 'A' && c <= 'Z')
		}
		if lower && up {
			return shortName{}, 0, false
		}
		if lower {
			flags |= []byte{ntLowerBase, ntLowerExt}[i]
		}
	}
	return packShort(strings.ToUpper(base), strings.ToUpper(ext)), flags, true
}

// aliasBasis is the first step of short-name generation for a long name:
// upper case, spaces and dots dropped, other characters a short name cannot
// hold turned into '_', base cut to 8 and extension (after the last dot) to
// 3. lossy reports whether anything was changed beyond case.
func aliasBasis(name string) (base, ext string, lossy bool) {
	s := strings.TrimLeft(name, ".")
	lossy = len(s) != len(name)
	basePart, extPart := s, ""
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		basePart, extPart = s[:i], s[i+1:]
	}
	conv := func(part string, n int) string {
		var b strings.Builder
		for _, r := range part {
			var c byte = '_'
			switch {
			case r == ' ' || r == '.':
				lossy = true
				continue
			case r < utf8.RuneSelf && isShortChar(upper(byte(r))):
				c = upper(byte(r))
			default:
				lossy = true
			}
			if b.Len() == n {
				lossy = true
				break
			}
			b.WriteByte(c)
		}
		return b.String()
	}
	base, ext = conv(basePart, 8), conv(extPart, 3)
	if base == "" {
		base, lossy = "_", true
	}
	return base, ext, lossy
}

// aliasKey identifies a tail counter: one per directory and basis.
type aliasKey struct {
	dir       *node
	base, ext string
}

// shortKey identifies a short name in a directory.
type shortKey struct {
	dir  *node
	name shortName
}

// aliaser hands out unique 8.3 aliases per directory.
type aliaser struct {
	used map[shortKey]struct{}
	next map[aliasKey]int
}

func newAliaser(n int) *aliaser {
	return &aliaser{used: make(map[shortKey]struct{}, n), next: make(map[aliasKey]int)}
}

// reserve records a short name that is used as is.
func (a *aliaser) reserve(dir *node, s shortName) {
	a.used[shortKey{dir, s}] = struct{}{}
}

// exact reserves base.ext in dir, the alias of a long name that fits 8.3
// once upper-cased (a mixed-case name), if it is free.
func (a *aliaser) exact(dir *node, base, ext string) (shortName, bool) {
	s := packShort(base, ext)
	if _, taken := a.used[shortKey{dir, s}]; taken {
		return shortName{}, false
	}
	a.reserve(dir, s)
	return s, true
}

// alias returns a unique short name in dir made of the basis base.ext (from
// aliasBasis) and a numeric tail.
func (a *aliaser) alias(dir *node, base, ext string) (shortName, error) {
	key := aliasKey{dir, base, ext}
	for n := max(a.next[key], 1); n <= 999999; n++ {
		s := withTail(base, ext, n)
		if _, taken := a.used[shortKey{dir, s}]; !taken {
			a.reserve(dir, s)
			a.next[key] = n + 1
			return s, nil
		}
	}
	return shortName{}, fmt.Errorf("fat: no free 8.3 alias for %s.%s", base, ext)
}

// withTail returns the alias of the basis base.ext with the numeric
// tail ~n, the base cut to make room for it.
func withTail(base, ext string, n int) shortName {
	tail := "~" + strconv.Itoa(n)
	if len(base) > 8-len(tail) {
		base = base[:8-len(tail)]
	}
	return packShort(base+tail, ext)
}

// badLabelChars are the printable ASCII characters a FAT volume label
// cannot hold.
const badLabelChars = `"*+,./:;<=>?[\]|`

// CheckLabel validates a volume label and returns it upper-cased, as the
// boot sector and the volume entry hold it. validate checks labels with it
// too, so a label it refuses fails before any stick is written.
func CheckLabel(label string) (string, error) {
	l := strings.TrimRight(label, " ")
	var bad []string
	var b strings.Builder
	for _, r := range l {
		switch {
		case r >= 0x80:
			bad = append(bad, fmt.Sprintf("%q (only ASCII is supported)", r))
		case r < 0x20 || r == 0x7F:
			bad = append(bad, fmt.Sprintf("control character %U", r))
		case strings.ContainsRune(badLabelChars, r):
			bad = append(bad, fmt.Sprintf("%q", r))
		default:
			b.WriteByte(upper(byte(r)))
		}
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("fat: volume label %q contains %s; a FAT label holds printable ASCII except %s",
			label, strings.Join(bad, ", "), strings.Join(strings.Split(badLabelChars, ""), " "))
	}
	if b.Len() > 11 {
		return "", fmt.Errorf("fat: volume label %q is %d characters long; a FAT label holds at most 11", label, b.Len())
	}
	return b.String(), nil
}
