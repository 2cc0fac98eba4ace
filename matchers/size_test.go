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
		show     string // String(): in the units written
	}{
		{"7GiB..64GiB", 7 << 30, 64 << 30, "7 GiB .. 64 GiB"},
		{" 7GiB .. 64GiB ", 7 << 30, 64 << 30, "7 GiB .. 64 GiB"},
		{"4GB..64GiB", 4e9, 64 << 30, "4 GB .. 64 GiB"},
		{"..64GiB", 0, 64 << 30, "<= 64 GiB"},
		{"4GB..", 4e9, 0, ">= 4 GB"},
		{">= 4GB", 4e9, 0, ">= 4 GB"},
		{">4GB", 4e9 + 1, 0, "> 4 GB"},
		{"<= 64GiB", 0, 64 << 30, "<= 64 GiB"},
		{"< 64GiB", 0, 64<<30 - 1, "< 64 GiB"},
		{"< 16GiB", 0, 16<<30 - 1, "< 16 GiB"},
		{"8GiB..8GiB", 8 << 30, 8 << 30, "8 GiB .. 8 GiB"},
		{"0.5GiB..1.5G", 1 << 29, 1.5e9, "0.5 GiB .. 1.5 GB"},
		{"4096..", 4096, 0, ">= 4096 B"},
		{"16m..", 16e6, 0, ">= 16 MB"},
		// Nominal sizes: what a stick is sold as.
		{"~8GB", 7.2e9, 8.1e9, "7.2 GB .. 8.1 GB"},
		{"~ 8 gb", 7.2e9, 8.1e9, "7.2 GB .. 8.1 GB"},
		{"~16GB", 14.4e9, 16.2e9, "14.4 GB .. 16.2 GB"},
		{"~64G", 57.6e9, 64.8e9, "57.6 GB .. 64.8 GB"},
		{"~1TB", 0.9e12, 1.0125e12, "0.9 TB .. 1.0125 TB"},
		{"~512MB", 460.8e6, 518.4e6, "460.8 MB .. 518.4 MB"},
		{"~8GB..~64GB", 7.2e9, 64.8e9, "7.2 GB .. 64.8 GB"},
		{">= ~8GB", 7.2e9, 0, ">= 7.2 GB"},
		{"> ~8GB", 8.1e9 + 1, 0, "> 8.1 GB"},
		{"<= ~32GB", 0, 32.4e9, "<= 32.4 GB"},
		{"< ~32GB", 0, 28.8e9 - 1, "< 28.8 GB"},
		{"~1.5KB", 1350, 1518, "1.35 KB .. 1.518 KB"},
	}
	for _, tt := range good {
		r, err := matchers.ParseSizeRange(tt.in)
		if err != nil || r.Min != tt.min || r.Max != tt.max {
			t.Errorf("ParseSizeRange(%q) = %d..%d, %v, want %d..%d, nil", tt.in, r.Min, r.Max, err, tt.min, tt.max)
			continue
		}
		if got := r.String(); got != tt.show {
			t.Errorf("ParseSizeRange(%q).String() = %q, want %q", tt.in, got, tt.show)
		}
	}
	bad := map[string]string{
		"":            `invalid size "": want a number and a unit, like "8GiB" or "16 GB"`,
		"..":          `size range ".." has no bounds; write "4GB..64GB", "..64GB" or "4GB.."`,
		"64GiB..7GiB": `size range "64GiB..7GiB" is empty: the lower bound is above the upper bound`,
		"~64GB..~8GB": `size range "~64GB..~8GB" is empty: the lower bound is above the upper bound`,
		"0..4GB":      `size bound "0" must be more than 0 bytes`,
		"< 1B":        `size range "< 1B" is empty`,
		">= 0":        `size bound "0" must be more than 0 bytes`,
		"4GB..8XB":    `unknown unit "XB" in size "8XB"; use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB`,
		"=> 4GB":      `invalid size "=> 4GB": want a number and a unit, like "8GiB" or "16 GB"`,
		"4GB...8GB":   `invalid number ".8" in size ".8GB"`,
		"~8GiB":       `"~8GiB": a nominal size is the capacity a stick is sold as, in KB, MB, GB or TB, like "~8GB"`,
		"~4096":       `"~4096": a nominal size is the capacity a stick is sold as, in KB, MB, GB or TB, like "~8GB"`,
		"~0GB":        `size bound "~0GB" must be more than 0 bytes`,
		"~big":        `invalid size "big": want a number and a unit, like "8GiB" or "16 GB"`,
		// A single size would mean exactly that many bytes.
		"8GB":    `"8GB" means exactly 8000000000 bytes, which almost no stick has. Write "~8GB" for a stick sold as 8 GB (7.2 GB .. 8.1 GB), "8GB.." for at least 8 GB, "..8GB" for at most 8 GB, or "8GB..8GB" for exactly 8000000000 bytes`,
		"16GiB":  `"16GiB" means exactly 17179869184 bytes, which almost no stick has. Write "~16GB" for a stick sold as 16 GB (14.4 GB .. 16.2 GB), "16GiB.." for at least 16 GiB, "..16GiB" for at most 16 GiB, or "16GiB..16GiB" for exactly 17179869184 bytes`,
		"1.5 tb": `"1.5 tb" means exactly 1500000000000 bytes, which almost no stick has. Write "~1.5TB" for a stick sold as 1.5 TB (1.35 TB .. 1.51875 TB), "1.5 tb.." for at least 1.5 TB, "..1.5 tb" for at most 1.5 TB, or "1.5 tb..1.5 tb" for exactly 1500000000000 bytes`,
		"4096":   `"4096" means exactly 4096 bytes, which almost no stick has. Write "4096.." for at least 4096 B, "..4096" for at most 4096 B, or "4096..4096" for exactly 4096 bytes`,
	}
	for in, want := range bad {
		if r, err := matchers.ParseSizeRange(in); err == nil || err.Error() != want {
			t.Errorf("ParseSizeRange(%q) = %d..%d, %v, want error\n  %s", in, r.Min, r.Max, err, want)
		}
	}
}

// TestNominalBands: the sizes sticks are sold in double, and their bands
// neither overlap nor leave out the capacities real sticks report.
func TestNominalBands(t *testing.T) {
	// Sold as → capacities such sticks typically report: 96% (SanDisk
	// keeps about 4% spare) to just over 100% of the nominal size.
	reported := map[int64][]int64{
		8e9:   {7_743_995_904, 7_803_174_912, 8_004_304_896},
		16e9:  {15_376_318_464, 15_502_147_584, 16_008_609_792},
		32e9:  {30_752_636_928, 31_004_295_168, 32_015_679_488},
		64e9:  {61_530_439_680, 62_008_590_336},
		128e9: {123_010_547_712, 128_043_712_512},
	}
	for sold, caps := range reported {
		lo, hi := matchers.NominalBand(sold)
		for _, c := range caps {
			if c < lo || c > hi {
				t.Errorf("NominalBand(%d) = %d..%d, want it to hold %d, a capacity such sticks report", sold, lo, hi, c)
			}
		}
	}
	prevHi := int64(0)
	for sold := int64(1e9); sold <= 4e12; sold *= 2 {
		lo, hi := matchers.NominalBand(sold)
		if lo <= prevHi {
			t.Errorf("NominalBand(%d) starts at %d, at or below the end of the band of half that size, %d", sold, lo, prevHi)
		}
		prevHi = hi
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
