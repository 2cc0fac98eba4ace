package matchers

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/flashpipe/flashpipe/units"
)

// FormatUSBID writes a USB vendor or product id as flashpipe shows it
// everywhere: 4 lowercase hex digits ("0781"), or "" for none (0).
func FormatUSBID(id uint16) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprintf("%04x", id)
}

// ParseUSBID parses a USB vendor or product id: 1 to 4 hex digits, with or
// without a 0x prefix ("0951", "0x781", "1d6B").
func ParseUSBID(s string) (uint16, error) {
	h := strings.TrimSpace(s)
	if len(h) > 2 && (h[:2] == "0x" || h[:2] == "0X") {
		h = h[2:]
	}
	if len(h) < 1 || len(h) > 4 {
		return 0, fmt.Errorf("invalid USB id %q: want 1 to 4 hex digits, optionally after 0x, like \"0x0781\"", s)
	}
	v, err := strconv.ParseUint(h, 16, 16)
	if err != nil {
		return 0, fmt.Errorf("invalid USB id %q: want 1 to 4 hex digits, optionally after 0x, like \"0x0781\"", s)
	}
	return uint16(v), nil
}

// sizeUnits maps lower-case unit names to bytes. K, M, G, T are decimal
// like KB, MB, GB, TB (as stick makers count).
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "tib": 1 << 40,
}

// unitNames are the units as size ranges show them, by size.
var unitNames = map[int64]string{
	1: "B", 1e3: "KB", 1 << 10: "KiB", 1e6: "MB", 1 << 20: "MiB",
	1e9: "GB", 1 << 30: "GiB", 1e12: "TB", 1 << 40: "TiB",
}

const unitList = "B, KB, KiB, MB, MiB, GB, GiB, TB or TiB"

// ParseSize parses a byte count: a decimal number and an optional unit,
// case-insensitive: B, K/KB (1000), KiB (1024), M/MB, MiB, G/GB, GiB, T/TB,
// TiB ("7.5GiB", "64 GB", "4096"). The result must be a whole number of
// bytes that fits in an int64.
func ParseSize(s string) (int64, error) {
	n, _, err := parseSize(s)
	return n, err
}

// parseSize is ParseSize that also returns the unit's size in bytes.
func parseSize(s string) (n, unit int64, err error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, name := t[:i], strings.TrimSpace(t[i:])
	if num == "" {
		return 0, 0, fmt.Errorf("invalid size %q: want a number and a unit, like \"8GiB\" or \"16 GB\"", s)
	}
	unit, ok := sizeUnits[strings.ToLower(name)]
	if !ok {
		return 0, 0, fmt.Errorf("unknown unit %q in size %q; use %s", name, s, unitList)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok || strings.Count(num, ".") > 1 || strings.HasSuffix(num, ".") || strings.HasPrefix(num, ".") {
		return 0, 0, fmt.Errorf("invalid number %q in size %q", num, s)
	}
	r.Mul(r, new(big.Rat).SetInt64(unit))
	if !r.IsInt() {
		return 0, 0, fmt.Errorf("size %q is not a whole number of bytes", s)
	}
	if !r.Num().IsInt64() {
		return 0, 0, fmt.Errorf("size %q is too large", s)
	}
	return r.Num().Int64(), unit, nil
}

// NominalBand returns the capacities a stick sold as n bytes reports: from
// 90% of n up to 101.25% of n, whole bytes inside those bounds. Sticks
// report 96% to 100.3% of what they are sold as (the controller keeps
// spare blocks; makers count GB as 10^9 bytes); the band leaves room on
// both sides and stays far from the neighbouring sizes, which double: half
// of n ends at 50.6% of n, double starts at 180%.
func NominalBand(n int64) (lo, hi int64) {
	frac := func(num, den int64, up bool) int64 {
		q, m := new(big.Int).DivMod(new(big.Int).Mul(big.NewInt(n), big.NewInt(num)), big.NewInt(den), new(big.Int))
		if up && m.Sign() > 0 {
			q.Add(q, big.NewInt(1))
		}
		if !q.IsInt64() {
			return math.MaxInt64
		}
		return q.Int64()
	}
	return frac(9, 10, true), frac(81, 80, false)
}

// SizeRange is a parsed capacity range of a match rule: inclusive bounds
// in bytes, 0 meaning unbounded. String shows it in the units it was
// written in.
type SizeRange struct {
	Min, Max int64
	lo, hi   sizeBound
}

// sizeBound is one bound as written, for String.
type sizeBound struct {
	edge int64 // the bound's value before > and < move it by one byte
	unit int64 // the unit it was written in
	open bool  // > or <: the edge itself is outside the range
}

// String shows the range in the units it was written in: "~8GB" is
// "7.2 GB .. 8.1 GB", "< 16GiB" is "< 16 GiB", "4GB.." is ">= 4 GB".
func (r SizeRange) String() string {
	switch {
	case r.Min > 0 && r.Max > 0:
		return r.lo.String() + " .. " + r.hi.String()
	case r.Min > 0 && r.lo.open:
		return "> " + r.lo.String()
	case r.Min > 0:
		return ">= " + r.lo.String()
	case r.Max > 0 && r.hi.open:
		return "< " + r.hi.String()
	case r.Max > 0:
		return "<= " + r.hi.String()
	}
	return "any size"
}

// String renders the bound's edge in its unit, exactly: "7.2 GB".
func (b sizeBound) String() string {
	v := new(big.Rat).SetFrac64(b.edge, b.unit)
	num := v.FloatString(40)
	if v.IsInt() {
		num = v.Num().String()
	} else {
		num = strings.TrimRight(num, "0")
	}
	return num + " " + unitNames[b.unit]
}

// ParseSizeRange parses a capacity range for a match rule. Bounds are
// inclusive. "~SIZE" is the nominal capacity: a stick sold as that size
// (see NominalBand); as a bound, it stands for the band's lower edge in
// a lower bound and its upper edge in an upper bound.
//
//	"~8GB"          a stick sold as 8 GB: 7.2 GB ≤ size ≤ 8.1 GB
//	"7GiB..64GiB"   7 GiB ≤ size ≤ 64 GiB
//	"~8GB..~64GB"   sticks sold as 8 GB to 64 GB: 7.2 GB ≤ size ≤ 64.8 GB
//	"..64GiB"       size ≤ 64 GiB
//	"4GB.."         size ≥ 4 GB
//	">= 4GB"        size ≥ 4 GB
//	"> 4GB"         size > 4 GB
//	"<= 64GiB"      size ≤ 64 GiB
//	"< 64GiB"       size < 64 GiB
//
// A single exact size ("8GB") is refused: no stick sold as 8 GB holds
// exactly 8,000,000,000 bytes. "8GB..8GB" says exactly that size.
func ParseSizeRange(s string) (SizeRange, error) {
	t := strings.TrimSpace(s)
	var r SizeRange
	var err error
	switch {
	case strings.Contains(t, ".."):
		lo, hi, _ := strings.Cut(t, "..")
		if strings.TrimSpace(lo) == "" && strings.TrimSpace(hi) == "" {
			return SizeRange{}, fmt.Errorf("size range %q has no bounds; write \"4GB..64GB\", \"..64GB\" or \"4GB..\"", s)
		}
		if strings.TrimSpace(lo) != "" {
			if r.lo, err = parseBound(lo, false); err != nil {
				return SizeRange{}, err
			}
		}
		if strings.TrimSpace(hi) != "" {
			if r.hi, err = parseBound(hi, true); err != nil {
				return SizeRange{}, err
			}
		}
	case strings.HasPrefix(t, ">="):
		r.lo, err = parseBound(t[2:], false)
	case strings.HasPrefix(t, ">"):
		r.lo, err = parseBound(t[1:], true)
		r.lo.open = true
	case strings.HasPrefix(t, "<="):
		r.hi, err = parseBound(t[2:], true)
	case strings.HasPrefix(t, "<"):
		r.hi, err = parseBound(t[1:], false)
		r.hi.open = true
	case strings.HasPrefix(t, "~"):
		if r.lo, err = parseBound(t, false); err == nil {
			r.hi, err = parseBound(t, true)
		}
	default:
		return SizeRange{}, bareSize(t)
	}
	if err != nil {
		return SizeRange{}, err
	}
	return r.resolve(s)
}

// resolve turns the bounds into Min and Max.
func (r SizeRange) resolve(s string) (SizeRange, error) {
	r.Min, r.Max = r.lo.edge, r.hi.edge
	if r.lo.open {
		if r.Min == math.MaxInt64 {
			return SizeRange{}, fmt.Errorf("size range %q is empty", s)
		}
		r.Min++
	}
	if r.hi.open {
		if r.Max == 1 {
			return SizeRange{}, fmt.Errorf("size range %q is empty", s)
		}
		r.Max--
	}
	if r.Max != 0 && r.Min > r.Max {
		return SizeRange{}, fmt.Errorf("size range %q is empty: the lower bound is above the upper bound", s)
	}
	return r, nil
}

// parseBound parses one bound: a size, or "~SIZE" for the lower (or, when
// upper, the upper) edge of a nominal size's band.
func parseBound(text string, upper bool) (sizeBound, error) {
	t := strings.TrimSpace(text)
	nominal, ok := strings.CutPrefix(t, "~")
	if !ok {
		n, unit, err := parseSize(t)
		if err == nil && n <= 0 {
			err = fmt.Errorf("size bound %q must be more than 0 bytes", t)
		}
		return sizeBound{edge: n, unit: unit}, err
	}
	n, unit, err := parseSize(nominal)
	if err != nil {
		return sizeBound{}, err
	}
	if decimalUnits[unit] != unit {
		return sizeBound{}, fmt.Errorf("%q: a nominal size is the capacity a stick is sold as, in KB, MB, GB or TB, like \"~8GB\"", t)
	}
	lo, hi := NominalBand(n)
	if lo <= 0 {
		return sizeBound{}, fmt.Errorf("size bound %q must be more than 0 bytes", t)
	}
	if upper {
		return sizeBound{edge: hi, unit: unit}, nil
	}
	return sizeBound{edge: lo, unit: unit}, nil
}

// bareSize is the error for a single size: it would mean exactly that many
// bytes, which is almost never what is meant.
func bareSize(t string) error {
	n, unit, err := parseSize(t)
	if err != nil {
		return err
	}
	exact := sizeBound{edge: n, unit: unit}
	nominal := ""
	if dec, ok := decimalUnits[unit]; ok {
		num := strings.TrimSpace(strings.TrimRight(t, "BbIiKkMmGgTt "))
		if v, err := ParseSize(num + unitNames[dec]); err == nil {
			lo, hi := NominalBand(v)
			nominal = fmt.Sprintf(`"~%s%s" for a stick sold as %s %s (%s .. %s), `, num, unitNames[dec], num, unitNames[dec],
				sizeBound{edge: lo, unit: dec}, sizeBound{edge: hi, unit: dec})
		}
	}
	return fmt.Errorf(`%q means exactly %d bytes, which almost no stick has. Write %s"%s.." for at least %s, "..%s" for at most %s, or "%s..%s" for exactly %d bytes`,
		t, n, nominal, t, exact, t, exact, t, t, n)
}

// decimalUnits maps each unit above a byte to the decimal unit sticks are
// sold in: GiB to GB, GB to itself.
var decimalUnits = map[int64]int64{
	1e3: 1e3, 1 << 10: 1e3, 1e6: 1e6, 1 << 20: 1e6, 1e9: 1e9, 1 << 30: 1e9, 1e12: 1e12, 1 << 40: 1e12,
}

// FormatSize renders a byte count for people with its exact count,
// "7.8 GB (7801405440 bytes)": it is units.Exact, the one formatter.
func FormatSize(n int64) string { return units.Exact(n) }
