package manifest

import (
	"io/fs"
	"syscall"
	"time"
)

// changeTimeOf returns the file's status change time (ctime).
func changeTimeOf(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	}
	return time.Time{}
}
