package matchers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Rule is a profile's match block, compiled. Every set field must match; an
// empty or zero field matches anything. String fields are lists of
// doublestar globs ("SanDisk*", "1-1.*"), any of which may match; they are
// case-sensitive, and a device without that attribute (a SATA disk has no
// USB serial) matches only a pattern that matches the empty string.
//
//	match {
//	  vendor_id    = ["0781"]
//	  product_id   = ["5567", "0x5581"]
//	  serial       = ["4C53*"]
//	  manufacturer = ["SanDisk*"]
//	  product      = ["Cruzer*"]
//	  port         = ["1-1.*"]
//	  size         = "~8GB..~64GB"
//	  bus          = ["usb"]
//	}
type Rule struct {
	VendorIDs, ProductIDs []uint16
	Serial                []string
	Manufacturer          []string
	Product               []string
	Port                  []string
	MinSize, MaxSize      int64 // inclusive bytes; 0 = unbounded
	Buses                 []string
}

type globAttr struct {
	attr     string
	patterns []string
	value    func(*Device) string
}

func (r Rule) globs() []globAttr {
	return []globAttr{
		{"serial", r.Serial, func(d *Device) string { return d.Serial }},
		{"manufacturer", r.Manufacturer, func(d *Device) string { return d.Manufacturer }},
		{"product", r.Product, func(d *Device) string { return d.Product }},
		{"port", r.Port, func(d *Device) string { return d.Port }},
	}
}

// Match reports whether d fits the rule. When it does not, why names the
// first attribute that did not match, in the order bus, vendor_id,
// product_id, serial, manufacturer, product, port, size:
// "vendor_id 0x0951 not in [0x0781]".
func (r Rule) Match(d *Device) (ok bool, why string) {
	if len(r.Buses) > 0 && !slices.Contains(r.Buses, d.Bus) {
		return false, fmt.Sprintf("bus %q not in [%s]", d.Bus, quoteList(r.Buses))
	}
	if len(r.VendorIDs) > 0 && !slices.Contains(r.VendorIDs, d.VendorID) {
		return false, fmt.Sprintf("vendor_id 0x%04x not in [%s]", d.VendorID, idList(r.VendorIDs))
	}
	if len(r.ProductIDs) > 0 && !slices.Contains(r.ProductIDs, d.ProductID) {
		return false, fmt.Sprintf("product_id 0x%04x not in [%s]", d.ProductID, idList(r.ProductIDs))
	}
	for _, g := range r.globs() {
		if len(g.patterns) > 0 && !anyGlob(g.patterns, g.value(d)) {
			return false, fmt.Sprintf("%s %q matches none of [%s]", g.attr, g.value(d), quoteList(g.patterns))
		}
	}
	if r.MinSize > 0 && d.Size < r.MinSize {
		return false, fmt.Sprintf("size %s is below the minimum %s", FormatSize(d.Size), FormatSize(r.MinSize))
	}
	if r.MaxSize > 0 && d.Size > r.MaxSize {
		return false, fmt.Sprintf("size %s is above the maximum %s", FormatSize(d.Size), FormatSize(r.MaxSize))
	}
	return true, ""
}

// anyGlob reports whether any pattern matches s. A malformed pattern
// matches nothing; Validate reports it.
func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, err := doublestar.Match(p, s); err == nil && ok {
			return true
		}
	}
	return false
}

func idList(ids []uint16) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprintf("0x%04x", id)
	}
	return strings.Join(s, ", ")
}

func quoteList(list []string) string {
	s := make([]string, len(list))
	for i, v := range list {
		s[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(s, ", ")
}
