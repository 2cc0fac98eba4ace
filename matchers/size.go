package matchers

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/flashpipe/flashpipe/units"
)

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

const unitList = "B, KB, KiB, MB, MiB, GB, GiB, TB or TiB"

// ParseSize parses a byte count: a decimal number and an optional unit,
// case-insensitive: B, K/KB (1000), KiB (1024), M/MB, MiB, G/GB, GiB, T/TB,
// TiB ("7.5GiB", "64 GB", "4096"). The result must be a whole number of
// bytes that fits in an int64.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: want a number and a unit, like \"8GiB\" or \"16 GB\"", s)
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q in size %q; use %s", unit, s, unitList)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok || strings.Count(num, ".") > 1 || strings.HasSuffix(num, ".") || strings.HasPrefix(num, ".") {
		return 0, fmt.Errorf("invalid number %q in size %q", num, s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("size %q is not a whole number of bytes", s)
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return r.Num().Int64(), nil
}

// ParseSizeRange parses a capacity range for a match rule. Bounds are
// inclusive; 0 means unbounded.
//
//	"7GiB..64GiB"   7 GiB ≤ size ≤ 64 GiB
//	"..64GiB"       size ≤ 64 GiB
//	"4GB.."         size ≥ 4 GB
//	">= 4GB"        size ≥ 4 GB
//	"> 4GB"         size > 4 GB
//	"<= 64GiB"      size ≤ 64 GiB
//	"< 64GiB"       size < 64 GiB
//	"8GiB"          size is exactly 8 GiB (a single size means exactly that;
//	                sticks sold as "8 GB" are rarely exactly 8 GB, so write a range)
func ParseSizeRange(s string) (minSize, maxSize int64, err error) {
	t := strings.TrimSpace(s)
	one := func(v string) (int64, error) {
		n, err := ParseSize(v)
		if err == nil && n <= 0 {
			err = fmt.Errorf("size bound %q must be more than 0 bytes", strings.TrimSpace(v))
		}
		return n, err
	}
	switch {
	case strings.Contains(t, ".."):
		lo, hi, _ := strings.Cut(t, "..")
		if strings.TrimSpace(lo) == "" && strings.TrimSpace(hi) == "" {
			return 0, 0, fmt.Errorf("size range %q has no bounds; write \"4GB..64GB\", \"..64GB\" or \"4GB..\"", s)
		}
		if strings.TrimSpace(lo) != "" {
			if minSize, err = one(lo); err != nil {
				return 0, 0, err
			}
		}
		if strings.TrimSpace(hi) != "" {
			if maxSize, err = one(hi); err != nil {
				return 0, 0, err
			}
		}
		if maxSize != 0 && minSize > maxSize {
			return 0, 0, fmt.Errorf("size range %q is empty: the lower bound is above the upper bound", s)
		}
		return minSize, maxSize, nil
	case strings.HasPrefix(t, ">="):
		minSize, err = one(t[2:])
	case strings.HasPrefix(t, ">"):
		minSize, err = one(t[1:])
		if err == nil {
			if minSize == math.MaxInt64 {
				return 0, 0, fmt.Errorf("size range %q is empty", s)
			}
			minSize++
		}
	case strings.HasPrefix(t, "<="):
		maxSize, err = one(t[2:])
	case strings.HasPrefix(t, "<"):
		maxSize, err = one(t[1:])
		if err == nil {
			if maxSize == 1 {
				return 0, 0, fmt.Errorf("size range %q is empty", s)
			}
			maxSize--
		}
	default:
		minSize, err = one(t)
		maxSize = minSize
	}
	if err != nil {
		return 0, 0, err
	}
	return minSize, maxSize, nil
}

// FormatSize renders a byte count for people with its exact count,
// "7.8 GB (7801405440 bytes)": it is units.Exact, the one formatter.
func FormatSize(n int64) string { return units.Exact(n) }
