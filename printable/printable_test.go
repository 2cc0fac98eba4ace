package printable

import "testing"

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain name.txt", "plain name.txt"},
		{"Größe 日本.mp4", "Größe 日本.mp4"},
		{"evil\x1b]0;PWNED\x07\x1b[2J.txt", `evil\x1b]0;PWNED\a\x1b[2J.txt`},
		{"a\nb\tc\rd", `a\nb\tc\rd`},
		{"del\x7f", `del\x7f`},
		{"c1 \u009b2J", `c1 \u009b2J`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"real \ufffd kept", "real \ufffd kept"},
		{"rtl \u202egnp.exe", `rtl \u202egnp.exe`},
		{"isolate \u2066x\u2069", `isolate \u2066x\u2069`},
		{"sep\u2028x", `sep\u2028x`},
		{"", ""},
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLines(t *testing.T) {
	in := "2 paths cannot be stored:\n  evil\x1b[2J.txt\r\n  ok.txt"
	want := "2 paths cannot be stored:\n  evil\\x1b[2J.txt\\r\n  ok.txt"
	if got := Lines(in); got != want {
		t.Errorf("Lines(%q) = %q, want %q", in, got, want)
	}
}

// FuzzString: whatever the input, the output holds no character a
// terminal acts on, and text without one comes back unchanged.
func FuzzString(f *testing.F) {
	for _, s := range []string{"a", "evil\x1b]0;PWNED\x07", "\xff", "\u202e", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if i := firstUnsafe(out); i >= 0 {
			t.Fatalf("String(%q) = %q: unsafe byte at %d", s, out, i)
		}
		if firstUnsafe(s) < 0 && out != s {
			t.Fatalf("String(%q) = %q, want it unchanged", s, out)
		}
	})
}
