package diskimage

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/flashpipe/flashpipe/fsimage"
)

// Stream returns the image's bytes decoded in one pass from the file,
// with no cache: for a reader that wants every byte once, in order, such as
// capture reading back the image it wrote. The decoders check what their
// formats carry (gzip's CRC-32 and length, xz's block checks, zstd's
// checksum, a zip entry's CRC-32). A damaged or truncated stream, or one
// that decodes to more or fewer bytes than the file declares, is a
// *DecodeError naming the file and the offsets reached; a file that changed
// since Open is a *ChangedError. Close the reader after use.
func (s *Source) Stream() (io.ReadCloser, error) {
	f, fi, err := fsimage.OpenRegular(s.Path)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", s.Path, err)
	}
	if identify(fi) != s.id {
		f.Close()
		return nil, &ChangedError{Path: s.Path, When: "since it was opened"}
	}
	d, c, base, err := stream(s, f, nil)
	if err != nil {
		f.Close()
		return nil, s.decodeError(err, c, base, 0)
	}
	return &streamReader{s: s, f: f, d: d, c: c, base: base}, nil
}

// streamReader is a Stream: the decoder and the offsets it reached.
type streamReader struct {
	s    *Source
	f    *os.File
	d    *decoder
	c    *counter
	base int64
	off  int64 // image bytes returned
}

func (r *streamReader) Read(p []byte) (int, error) {
	n, err := r.d.Read(p)
	r.off += int64(n)
	if cerr := r.s.checkDeclared(r.off); cerr != nil {
		return n, cerr
	}
	switch {
	case errors.Is(err, io.EOF):
		if s := r.s; s.Size >= 0 && s.SizeFrom != "block map" && r.off != s.Size {
			return n, &DecodeError{What: s.describe(), ImageOffset: r.off, FileOffset: r.base + r.c.n, FileSize: s.FileSize,
				Err: fmt.Errorf("it decodes to %d bytes, but its %s gives %d", r.off, s.SizeFrom, s.Size)}
		}
		return n, io.EOF
	case err != nil:
		return n, r.s.decodeError(err, r.c, r.base, r.off)
	}
	return n, nil
}

// Close releases the decoder and the file.
func (r *streamReader) Close() error {
	r.d.Close()
	return r.f.Close()
}
