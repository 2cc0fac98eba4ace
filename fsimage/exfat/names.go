package exfat

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxNameUnits is the longest file name exFAT holds, in UTF-16 code units.
const maxNameUnits = 255

// maxLabelUnits is the longest volume label, in UTF-16 code units.
const maxLabelUnits = 11

// badNameChars are the characters §7.7.3 forbids in file names, besides the
// control characters 0x00–0x1F.
const badNameChars = `"*/:<>?\|`

// checkName returns why name cannot be an exFAT file name, or "" if it can,
// along with its UTF-16 form.
func checkName(name string) (units []uint16, reason string) {
	if name == "" {
		return nil, "name is empty"
	}
	if !utf8.ValidString(name) {
		return nil, "name is not valid UTF-8"
	}
	for _, r := range name {
		if r < 0x20 {
			return nil, fmt.Sprintf("name contains control character %U", r)
		}
		if strings.ContainsRune(badNameChars, r) {
			return nil, fmt.Sprintf("name contains %q; exFAT forbids %s", r, strings.Join(strings.Split(badNameChars, ""), " "))
		}
	}
	units = utf16.Encode([]rune(name))
	if len(units) > maxNameUnits {
		return nil, fmt.Sprintf("name is %d UTF-16 units long; exFAT allows %d", len(units), maxNameUnits)
	}
	return units, ""
}

// CheckLabel returns the UTF-16 form of a volume label, or an error saying
// why exFAT cannot hold it. validate checks labels with it too.
func CheckLabel(label string) ([]uint16, error) {
	if label == "" {
		return nil, nil
	}
	units, reason := checkName(label)
	if reason != "" {
		return nil, fmt.Errorf("exfat: volume label %q: %s", label, strings.Replace(reason, "name", "label", 1))
	}
	if len(units) > maxLabelUnits {
		return nil, fmt.Errorf("exfat: volume label %q is %d UTF-16 units long; exFAT allows %d", label, len(units), maxLabelUnits)
	}
	return units, nil
}

// upcaseKey returns name's code units mapped through the up-case table, as a
// string usable as a map key for case-insensitive comparison.
func upcaseKey(t *upcase, units []uint16) string {
	b := make([]byte, 2*len(units))
	for i, u := range units {
		v := t.table[u]
		b[2*i], b[2*i+1] = byte(v), byte(v>>8)
	}
	return string(b)
}

// nameHash is the NameHash of §7.6.4: a 16-bit rotating checksum over the
// up-cased name's code units, low byte first.
func nameHash(t *upcase, units []uint16) uint16 {
	var h uint16
	for _, u := range units {
		v := t.table[u]
		h = (h>>1 | h<<15) + uint16(v&0xFF)
		h = (h>>1 | h<<15) + uint16(v>>8)
	}
	return h
}
