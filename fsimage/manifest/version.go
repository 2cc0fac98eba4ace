package manifest

import (
	"fmt"
	"io/fs"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
)

// HasVersion reports whether e names one version of its source: Scan
// recorded its status change time and inode besides its size and
// modification time. Writing a file changes its ctime even when the size
// stays and the modification time is set back (touch -r), so a source
// whose stat still shows all four is the version e describes. Not on
// systems without ctime or inodes.
func HasVersion(e *fsimage.Entry) bool {
	return !e.Dir && !e.ChangeTime.IsZero() && e.Inode != 0
}

// Differs compares what stat says of e's source now (fi) with the version
// e records: size and modification time (Entry.Differs), and ctime and
// inode when e has them. It returns "" when they are the same, else what
// differs.
func Differs(e *fsimage.Entry, fi fs.FileInfo) string {
	if why := e.Differs(fi); why != "" {
		return why
	}
	if e.Inode != 0 {
		if ino := inodeOf(fi); ino != e.Inode {
			return fmt.Sprintf("inode is %d, manifest says %d (replaced by another file)", ino, e.Inode)
		}
	}
	if !e.ChangeTime.IsZero() {
		if ct := changeTimeOf(fi); !ct.Equal(e.ChangeTime) {
			return fmt.Sprintf("status changed %s, manifest says %s (written or its metadata changed)",
				ct.Format(time.RFC3339Nano), e.ChangeTime.Format(time.RFC3339Nano))
		}
	}
	return ""
}

// Holds reports whether the cache's sum for the version of the file e
// records is e.SHA1: the sum was taken by reading that version's bytes.
// Writers then need not hash the file again; they check with Differs
// that stat still shows that version (see executor.Options.Hashes).
func (c *Cache) Holds(e *fsimage.Entry) bool {
	if c == nil || !HasVersion(e) || e.SHA1 == ([20]byte{}) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sum, ok := c.sums[keyOf(e)]
	return ok && sum == e.SHA1
}

// SetVersion records in e the version of its source fi describes: size,
// modification and change time, inode.
func SetVersion(e *fsimage.Entry, fi fs.FileInfo) {
	e.Size, e.ModTime, e.ChangeTime, e.Inode = fi.Size(), fi.ModTime(), changeTimeOf(fi), inodeOf(fi)
}
