// Package printable makes text that comes from outside the station — file
// names, USB serial, vendor and product strings, error messages that embed
// them — safe to show to a person on a terminal. A terminal acts on control
// characters instead of showing them: ESC starts sequences that set the
// window title, move the cursor or clear the screen, so a content file named
// "evil\x1b]0;PWNED\x07\x1b[2J.txt" printed raw rewrites the operator's
// screen. String writes such characters as visible escapes.
//
// Every place that writes text for a person goes through String: the plain
// log lines and the live table (package status), flashpipe report's text,
// flashpipe devices, the messages and diagnostics flashpipe prints, and the
// station's log messages and logger names. hclog quotes the values of its
// own fields itself (strconv.Quote), but not the message or the name.
// Machine formats (JSON, CSV, the web page's textContent) carry text as it
// is.
package printable

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// String returns s with every character a terminal would act on instead of
// show written as an escape: C0 control characters (ESC as \x1b, BEL as \a,
// newline as \n, tab as \t …), DEL (\x7f), C1 controls (\u009b), the line
// and paragraph separators and the Unicode bidirectional overrides and
// isolates (\u202e; they reorder what follows them), and bytes that are not
// UTF-8 (\xff). Everything else, including letters of every script, is kept
// as it is. A string with nothing to escape is returned unchanged.
func String(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	sb.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			sb.WriteString(`\x`)
			sb.WriteString(strconv.FormatUint(uint64(s[i])>>4, 16))
			sb.WriteString(strconv.FormatUint(uint64(s[i])&15, 16))
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\a', '\u202e'
			sb.WriteString(q[1 : len(q)-1])
		default:
			sb.WriteString(s[i : i+n])
		}
		i += n
	}
	return sb.String()
}

// Lines is String for text of several lines, such as an error that lists
// one problem per line: each line is escaped and the newlines between them
// are kept.
func Lines(s string) string {
	if firstUnsafe(s) < 0 {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = String(l)
	}
	return strings.Join(lines, "\n")
}

// firstUnsafe returns the index of the first byte of s that String must
// escape, or -1.
func firstUnsafe(s string) int {
	for i, r := range s {
		if unsafeRune(r) || (r == utf8.RuneError && !validAt(s, i)) {
			return i
		}
	}
	return -1
}

// validAt reports whether s holds a real U+FFFD at i (not an invalid byte).
func validAt(s string, i int) bool {
	_, n := utf8.DecodeRuneInString(s[i:])
	return n == 3
}

// unsafeRune reports whether a terminal acts on r rather than showing it.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true // C0, DEL, C1 (CSI is \u009b)
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true // bidirectional marks, embeddings, overrides and isolates
	case r == 0x2028, r == 0x2029:
		return true // line and paragraph separators
	}
	return false
}
