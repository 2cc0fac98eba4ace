package diskimage

import (
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// DecodeError says that an image's compressed data is damaged or
// truncated, and where.
type DecodeError struct {
	// What names the data: "image x.img.xz (xz)", "zip entry x.img of
	// x.zip (raw)".
	What string
	// ImageOffset is how many image bytes were decoded before the failure.
	ImageOffset int64
	// FileOffset is how far the file had been read (decoders read ahead by
	// up to 256 KiB, so the damage lies before it); FileSize the file's
	// size.
	FileOffset, FileSize int64
	// Truncated is set when the data ends before its format says it does.
	Truncated bool
	Err       error
}

// Error says what is damaged or truncated, and where.
func (e *DecodeError) Error() string {
	if e.Truncated {
		return fmt.Sprintf("%s is truncated: its data ends (file read to byte %d of %d) after %d bytes of image: %v",
			e.What, e.FileOffset, e.FileSize, e.ImageOffset, e.Err)
	}
	return fmt.Sprintf("%s is damaged: decoding failed at image byte %d, with the file read to byte %d of %d: %v",
		e.What, e.ImageOffset, e.FileOffset, e.FileSize, e.Err)
}

// Unwrap returns the decoder's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// decodeError wraps err, met decoding s after imageOff image bytes with the
// file read as c counts from base.
func (s *Source) decodeError(err error, c *counter, base, imageOff int64) error {
	if errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return fmt.Errorf("%s needs a zstd window above %d MiB, the most flashpipe decodes, to bound its memory "+
			"(it was compressed with --long or --ultra): recompress it with zstd -19 or less", s.describe(), MaxWindow>>20)
	}
	var fileOff int64
	if c != nil {
		fileOff = base + c.n
	}
	return &DecodeError{
		What:        s.describe(),
		ImageOffset: imageOff,
		FileOffset:  fileOff,
		FileSize:    s.FileSize,
		Truncated:   errors.Is(err, io.ErrUnexpectedEOF),
		Err:         err,
	}
}
