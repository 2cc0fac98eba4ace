package fsimage

import (
	"fmt"
	"io"
	"os"
)

// WriteImage writes the extents of a plan into a new image file at path,
// sized to size bytes. Zero extents and don't-care bytes are left as holes,
// so the file is sparse. Source files are read, never written.
//
// This is the simple reference writer; it is what tests use to turn a
// Layout into something fsck can read.
func WriteImage(path string, size int64, extents []Extent) (err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if err := f.Truncate(size); err != nil {
		return err
	}
	for _, e := range extents {
		if err := writeExtent(f, e); err != nil {
			return fmt.Errorf("write %s at %d: %w", e.What, e.Offset, err)
		}
	}
	return f.Sync()
}

func writeExtent(w io.WriterAt, e Extent) error {
	switch e.Kind {
	case Bytes:
		_, err := w.WriteAt(e.Data, e.Offset)
		return err
	case Zero:
		return nil // a new sparse file reads back zeros
	case FileData:
		src, err := os.Open(e.Entry.Source)
		if err != nil {
			return err
		}
		defer src.Close()
		n, err := io.Copy(io.NewOffsetWriter(w, e.Offset), io.NewSectionReader(src, e.SourceOffset, e.Length))
		if err == nil && n != e.Length {
			err = fmt.Errorf("source %s: read %d bytes, want %d (changed since the manifest?)", e.Entry.Source, n, e.Length)
		}
		return err
	}
	return fmt.Errorf("invalid extent kind %v", e.Kind)
}
