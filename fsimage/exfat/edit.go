package exfat

import (
	"fmt"
	"time"
)

// The entry sets of files and folders as Build writes them, for
// fsimage/imgedit, which adds files to an exFAT volume someone else made.

// FileEntries returns the entry set of a file (or, dir, a folder) named
// name — its File, Stream Extension and File Name entries, with the set
// checksum and the name hash of the specification's up-case table — whose
// data starts at cluster first (0: none) and is length bytes long;
// contiguous sets NoFatChain (the clusters follow each other and the FAT
// is not read).
func FileEntries(name string, dir bool, first uint32, length uint64, contiguous bool, mtime time.Time) ([]byte, error) {
	units, reason := checkName(name)
	if reason != "" {
		return nil, fmt.Errorf("%q cannot be an exFAT name: %s", name, reason)
	}
	return appendFileSet(nil, theUpcase(), &fileSet{name: units, dir: dir, mtime: mtime,
		firstCluster: first, dataLength: length, noFatChain: contiguous}), nil
}

// SetChecksum returns the checksum of an entry set (its File entry's
// bytes 2-3 hold it).
func SetChecksum(set []byte) uint16 { return setChecksum(set) }

// NameKey returns the UTF-16 name units up-cased through the
// specification's up-case table: two names are the same on exFAT when
// their keys are.
func NameKey(units []uint16) string { return upcaseKey(theUpcase(), units) }

// UpcaseChecksum is the TableChecksum of the specification's up-case
// table, the one mkfs.exfat and Build write; NameKey and FileEntries'
// name hashes hold for volumes with this table.
func UpcaseChecksum() uint32 { return theUpcase().checksum }
