package fat

import "time"

// BootLabel returns the 11 bytes of a boot sector's volume label field
// (BS_VolLab) for label, as CheckLabel returns it: padded with spaces,
// "NO NAME" when it is empty.
func BootLabel(label string) [11]byte {
	if label == "" {
		label = "NO NAME"
	}
	lab := packShort("", "")
	copy(lab[:], label)
	return lab
}

// LabelEntry returns the root directory's volume-label entry for label,
// as CheckLabel returns it (not empty), stamped t: the entry Build writes,
// and the one fsimage/relabel puts into an image.
func LabelEntry(label string, t time.Time) [direntSize]byte {
	var name shortName
	copy(name[:], label+"           ")
	var b [direntSize]byte
	de := dirent{name: name, attr: attrVolumeID, time: t}
	de.put(b[:])
	return b
}
