package matchers_test

import (
	"testing"

	"github.com/flashpipe/flashpipe/matchers"
)

func TestRuleMatch(t *testing.T) {
	stick := read(t, load(t, "usb-stick-behind-hub"), "sdb") // 0781:5567, 1-1.4, 15.4 GB
	sata := read(t, load(t, "sata-disk"), "sda")
	tests := []struct {
		name string
		rule matchers.Rule
		dev  *matchers.Device
		why  string // "" = match
	}{
		{"empty rule matches anything", matchers.Rule{}, stick, ""},
		{"all fields match", matchers.Rule{
			VendorIDs: []uint16{0x0951, 0x0781}, ProductIDs: []uint16{0x5567}, Serial: []string{"4C53*"},
			Manufacturer: []string{"Kingston", "San{D,d}isk"}, Product: []string{"Cruzer*"}, Port: []string{"1-1.*"},
			MinSize: 7 << 30, MaxSize: 64 << 30, Buses: []string{"usb"},
		}, stick, ""},
		{"vendor", matchers.Rule{VendorIDs: []uint16{0x0951}}, stick, "vendor_id 0x0781 not in [0x0951]"},
		{"product", matchers.Rule{ProductIDs: []uint16{0x5581, 0x5583}}, stick, "product_id 0x5567 not in [0x5581, 0x5583]"},
		{"serial", matchers.Rule{Serial: []string{"AA*", "BB?"}}, stick, `serial "4C530001230815117432" matches none of ["AA*", "BB?"]`},
		{"manufacturer is case-sensitive", matchers.Rule{Manufacturer: []string{"sandisk"}}, stick, `manufacturer "SanDisk" matches none of ["sandisk"]`},
		{"product", matchers.Rule{Product: []string{"Ultra*"}}, stick, `product "Cruzer Blade" matches none of ["Ultra*"]`},
		{"port", matchers.Rule{Port: []string{"1-1.[123]"}}, stick, `port "1-1.4" matches none of ["1-1.[123]"]`},
		{"port on another hub", matchers.Rule{Port: []string{"1-1.4.*"}}, stick, `port "1-1.4" matches none of ["1-1.4.*"]`},
		{"too small", matchers.Rule{MinSize: 16 << 30}, stick, "size 15.4 GB (15376318464 bytes) is below the minimum 17.2 GB (17179869184 bytes)"},
		{"too big", matchers.Rule{MaxSize: 8e9}, stick, "size 15.4 GB (15376318464 bytes) is above the maximum 8.0 GB (8000000000 bytes)"},
		{"bus", matchers.Rule{Buses: []string{"usb", "mmc"}}, sata, `bus "ata" not in ["usb", "mmc"]`},
		{"first failing attribute is named", matchers.Rule{VendorIDs: []uint16{1}, Serial: []string{"x"}}, stick, "vendor_id 0x0781 not in [0x0001]"},
		{"no USB ids on sata", matchers.Rule{VendorIDs: []uint16{0x0781}}, sata, "vendor_id 0x0000 not in [0x0781]"},
		{"serial glob on a disk without serial", matchers.Rule{Serial: []string{"*"}}, sata, ""},
	}
	for _, tt := range tests {
		ok, why := tt.rule.Match(tt.dev)
		if ok != (tt.why == "") || why != tt.why {
			t.Errorf("%s: Match(%s) = %v, %q, want %v, %q", tt.name, tt.dev.Name, ok, why, tt.why == "", tt.why)
		}
	}
}
