// Package diskimage opens disk images — raw, gzip, xz, zstd, bzip2, or an
// image inside a zip — and decompresses each one once into a cache that
// every stick reads from at its own pace.
//
// # Using it (the image step)
//
//	src, err := diskimage.Open(path, diskimage.Options{Entry: entry, Bmap: "auto"})
//	// validate/plan: src.Format, src.Size (-1: unknown before decoding),
//	// src.Head (the partition table), src.Bmap.MappedBytes(), src.BmapTried.
//	// cache.Lookup(src) gives the size of an image decoded before.
//
//	cache, err := diskimage.OpenCache(dir) // one per station; Close at exit
//	im, err := cache.Get(src)               // per stick; im.Close() after
//	regions, err := im.Mapped(ctx)          // bmap ranges, or the whole image
//	for _, r := range regions {
//		err := im.WaitFor(ctx, r.Offset+r.Length) // decoded and bmap-checked
//		spans, err := im.Spans(r.Offset, r.Offset+r.Length)
//		// write the Data spans from im.ReadAt; zero the holes (BLKZEROOUT):
//		// a hole inside a mapped range is zeros, never "skip".
//	}
//	meta, err := im.Wait(ctx) // for the receipt: meta.SHA256 (image),
//	// meta.FileSHA256 (compressed file), src.Bmap.FileChecksum (bmap)
//
// src.Stream() decodes the image in one pass with no cache, for a reader
// that wants each byte once (capture reads back the image it wrote);
// Options.Name opens a file still under a temporary name as the name it
// will have.
//
// An image bigger than the stick must be refused before a byte is
// written: src.Size gives the size at once for raw, zip-stored and xz
// images and whenever a block map is used; otherwise im.WaitSize waits for
// the end of decompression (a later run finds it with cache.Lookup).
//
// # Formats
//
// Open detects the format by its first bytes, never by the name; the name
// only makes a file raw that has no partition-table, filesystem or
// compression signature at all (a .img of zeros). What it cannot read it
// names: a tar, 7z, qcow2, Android sparse image … A compressed file must
// hold a raw image (a .tar.xz is refused at Open, as is xz inside gzip). A
// zip must hold one image (companions — .bmap, checksums, signatures,
// README, LICENSE, *SUMS, text — are not candidates); with several, the
// caller names the entry, and the error lists them. Zip entries may be
// stored or compressed with deflate, bzip2, zstd or xz, and may hold a
// compressed image themselves.
//
// The decoders are pure Go (docs/architecture.md says why each): gzip,
// deflate and zstd from klauspost/compress, xz's LZMA2 from ulikunitz/xz,
// bzip2 from the standard library. xz blocks are decoded in parallel when
// the file has several (xz -T0 writes them): flashpipe reads the xz index
// itself, decodes each block with ulikunitz's LZMA2 reader straight into
// its place in the cache file and checks each block's CRC32/CRC64/SHA-256.
//
// # Memory
//
// The xz dictionary and the zstd window are limited to MaxWindow (64 MiB,
// xz -9's): a file that asks for more is refused at Open (xz) or when its
// frame starts (zstd), naming the size. Parallel xz runs only as many
// blocks at once as fit in 64 MiB of dictionaries. The serial decoders
// hand 1 MiB chunks through three buffers. All this is per image, shared
// by every stick.
//
// # The cache
//
// A cache directory holds, for each image, ID.img (the image as a sparse
// file: every whole, aligned 4 KiB block of zeros is a hole), ID.json (Meta:
// the image's size and SHA-256, the compressed file's size and SHA-256,
// its format, when) and stat/KEY.json (the file identity that leads to ID).
// ID is the SHA-256 of the compressed content (for a zip, of the entry's
// compressed bytes) and the entry name, so the same image under two names
// is kept once.
//
// Key and cost: hashing a 4 GB .xz before decompressing it would read it
// twice. Instead the compressed bytes are hashed while they are decoded,
// and the file's identity — device, inode, size, mtime and ctime (which
// every write changes and nothing can set back) — is taken when
// decompression starts and checked again at its end, on both the open
// file and the path: a file written, touched or replaced in between fails
// with ChangedError and its entry is discarded. A later Get of an
// unchanged file finds its entry by that identity without reading the
// file at all; a changed one is decoded again (and, if its content is the
// same, lands on the same ID). A raw image is copied into the cache too: a
// file replaced while sticks read it cannot mix two images, its holes are
// found once, and its SHA-256 is taken once.
//
// Concurrency: within a process, every Get of one file version shares one
// entry and one decompression, which runs in the background until it
// ends, fails, or Cache.Close (closing Images does not stop it: the next
// stick wants it). WaitFor lets a stick start on the part that is ready,
// so sticks never wait for each other, only for the decoder. The image's
// first ready bytes are final: a reader never sees a byte twice. Two
// processes sharing a directory each decode into their own temporary file
// (fill-*.img, locked with flock; OpenCache removes unlocked ones left by
// a process that died) and the second to finish keeps the first's entry.
//
// # Bad input, nothing lost
//
// A damaged or truncated stream is a DecodeError naming the file, the
// image offset decoding reached and how far the file had been read; a
// full cache directory an error naming the directory, the image and the
// bytes; a changed file a ChangedError. In every case the partial entry is
// removed at once (a later Get starts afresh, even while Images of the
// failed one are open), every waiting reader gets the error, the source
// is only ever read, and other entries stay. A block map that does not
// match the image (bmap.ChecksumError) fails that Image's waits and reads
// but not the cache entry, which is the image's own.
//
// diskimage imports diskimage/bmap, fsimage (for Region) and units, and
// nothing above them.
package diskimage
