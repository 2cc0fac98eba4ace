package matchers_test

import (
	"testing"

	"github.com/flashpipe/flashpipe/matchers"
)

func TestParseUSBID(t *testing.T) {
	good := map[string]uint16{"0781": 0x0781, "0x0781": 0x0781, "0X781": 0x0781, "781": 0x0781, "1d6B": 0x1d6b, "f": 0xf, "ffff": 0xffff, " 0951 ": 0x0951}
	for in, want := range good {
		got, err := matchers.ParseUSBID(in)
		if err != nil || got != want {
			t.Errorf("ParseUSBID(%q) = %#04x, %v, want %#04x, nil", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0x", "12345", "0x12345", "g1", "-1", "0x-1", "07 81"} {
		if got, err := matchers.ParseUSBID(in); err == nil {
			t.Errorf("ParseUSBID(%q) = %#04x, nil, want an error", in, got)
		}
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0": 0, "4096": 4096, "512B": 512, "512 b": 512,
		"1K": 1000, "1kb": 1000, "1KiB": 1024, "1kib": 1024,
		"2M": 2e6, "2MB": 2e6, "2MiB": 2 << 20,
		"16G": 16e9, "16 GB": 16e9, "8GiB": 8 << 30, "7.5GiB": 7.5 * (1 << 30), "0.5 gib": 1 << 29,
		"2T": 2e12, "2tb": 2e12, "1TiB": 1 << 40, "1.5KB": 1500,
		"8589934592TiB": 0, // replaced below: overflow
	}
	delete(good, "8589934592TiB")
	for in, want := range good {
		got, err := matchers.ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d, nil", in, got, err, want)
		}
	}
	bad := map[string]string{
		"7GiBB":         `unknown unit "GiBB" in size "7GiBB"; use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB`,
		"GiB":           `invalid size "GiB": want a number and a unit, like "8GiB" or "16 GB"`,
		"":              `invalid size "": want a number and a unit, like "8GiB" or "16 GB"`,
		"-1GB":          `invalid size "-1GB": want a number and a unit, like "8GiB" or "16 GB"`,
		"1.2.3GB":       `invalid number "1.2.3" in size "1.2.3GB"`,
		"1.GB":          `invalid number "1." in size "1.GB"`,
		"0.3B":          `size "0.3B" is not a whole number of bytes`,
		"8589934592TiB": `size "8589934592TiB" is too large`,
	}
	for in, want := range bad {
		got, err := matchers.ParseSize(in)
		if err == nil || err.Error() != want {
			t.Errorf("ParseSize(%q) = %d, %v, want error %q", in, got, err, want)
		}
	}
}

func TestParseSizeRange(t *testing.T) {
	good := []struct {
		in       string
		min, max int64
	}{
		{"7GiB..64GiB", 7 << 30, 64 << 30},
		{" 7GiB .. 64GiB ", 7 << 30, 64 << 30},
		{"..64GiB", 0, 64 << 30},
		{"4GB..", 4e9, 0},
		{">= 4GB", 4e9, 0},
		{">4GB", 4e9 + 1, 0},
		{"<= 64GiB", 0, 64 << 30},
		{"< 64GiB", 0, 64<<30 - 1},
		{"8GiB", 8 << 30, 8 << 30},
		{"8GiB..8GiB", 8 << 30, 8 << 30},
	}
	for _, tt := range good {
		lo, hi, err := matchers.ParseSizeRange(tt.in)
		if err != nil || lo != tt.min || hi != tt.max {
			t.Errorf("ParseSizeRange(%q) = %d, %d, %v, want %d, %d, nil", tt.in, lo, hi, err, tt.min, tt.max)
		}
	}
	for _, in := range []string{"", "..", "64GiB..7GiB", "0..4GB", "< 1B", ">= 0", "4GB..8XB", "=> 4GB", "4GB...8GB"} {
		if lo, hi, err := matchers.ParseSizeRange(in); err == nil {
			t.Errorf("ParseSizeRange(%q) = %d, %d, nil, want an error", in, lo, hi)
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := map[int64]string{
		0: "0 B", 512: "512 B", 1024: "1.0 kB (1024 bytes)", 8 << 30: "8.6 GB (8589934592 bytes)", 1500: "1.5 kB (1500 bytes)",
		15376318464: "15.4 GB (15376318464 bytes)",
	}
	for in, want := range tests {
		if got := matchers.FormatSize(in); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", in, got, want)
		}
	}
}
