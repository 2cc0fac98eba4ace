package diskimage

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// identify returns what identifies fi's file and its version: device,
// inode, size, mtime and ctime. The ctime changes on every write and
// cannot be set back, so a file rewritten in place with its mtime restored
// still changes identity.
func identify(fi os.FileInfo) fileID {
	id := fileID{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	// os gives syscall's Stat_t, not x/sys/unix's: asserting the latter
	// never matched, and only size and mtime were compared.
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.Dev, id.Ino = uint64(st.Dev), st.Ino
		id.Ctime = st.Ctim.Nano()
	}
	return id
}

// lockFile takes an exclusive lock on f; with wait false it fails at once
// when another process holds it.
func lockFile(f *os.File, wait bool) error {
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	return unix.Flock(int(f.Fd()), how)
}

// spans lists data and holes of f in [off, end) with SEEK_DATA and
// SEEK_HOLE; a filesystem without them gives everything as data.
func spans(f *os.File, off, end int64) ([]Span, error) {
	var out []Span
	fd := int(f.Fd())
	for off < end {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		switch {
		case errors.Is(err, unix.ENXIO):
			data = end
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP):
			return append(out, Span{Offset: off, Length: end - off, Data: true}), nil
		case err != nil:
			return nil, err
		}
		data = min(data, end)
		if data > off {
			out = append(out, Span{Offset: off, Length: data - off})
		}
		if data == end {
			break
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		hole = min(hole, end)
		out = append(out, Span{Offset: data, Length: hole - data, Data: true})
		off = hole
	}
	return out, nil
}
