package fsimage

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// NotRegularError is a path that content or configuration is read from
// but that is not a regular file: a FIFO (opening it for reading waits for
// a writer forever), a device (/dev/zero reads forever, /dev/null reads
// nothing), a socket.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is a %s, not a regular file", e.Path, KindOf(e.Mode))
}

// KindOf names the type of a file mode for people: "fifo", "socket",
// "character device", "block device", "symbolic link", "directory",
// "regular file".
func KindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "directory"
	case m.IsRegular():
		return "regular file"
	}
	return m.Type().String()
}

// OpenRegular opens path for reading if it is a regular file (a symbolic
// link is followed), and returns it with what fstat says of it. It never
// blocks in open and never reads anything else: it looks with stat first,
// opens with O_NONBLOCK (a FIFO then opens at once instead of waiting for
// a writer) and O_NOCTTY, and looks again with fstat, since the path may
// have been replaced in between. Anything but a regular file is a
// *NotRegularError; reads from the file it returns end at its end.
func OpenRegular(path string) (*os.File, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if fi, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return f, fi, nil
}

// ReadRegular reads the whole of path, a regular file (see OpenRegular).
func ReadRegular(path string) ([]byte, error) {
	f, _, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
