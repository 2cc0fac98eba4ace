package diskimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Cache is a directory of decompressed images shared by every stick (see
// the package doc for the layout and the key). Its methods are safe for
// concurrent use.
type Cache struct {
	dir    string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // fillers and block-map checkers

	mu      sync.Mutex
	entries map[entryKey]*entry // entries with open Images or a running filler
	closed  bool
}

// fileID identifies a source file and its version (see identify).
type fileID struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
}

// entryKey is what an entry is found by before its content hash is known:
// the file's identity and the zip entry.
type entryKey struct {
	fileID
	Entry string `json:"entry,omitempty"`
}

// name is the key's file name in the stat index.
func (k entryKey) name() string {
	b, _ := json.Marshal(k)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]) + ".json"
}

// Meta describes a complete cache entry; it is the entry's metadata file.
type Meta struct {
	// ID names the entry: a hash of the compressed content and the zip
	// entry.
	ID string `json:"id"`
	// Source, Entry and Format describe the file it was first
	// decompressed from (a copy of the same content under another name
	// shares the entry).
	Source string `json:"source"`
	Entry  string `json:"entry,omitempty"`
	Format string `json:"format"`
	// FileSize and FileSHA256: the compressed file (for a zip, the
	// entry's compressed bytes).
	FileSize   int64  `json:"file_size"`
	FileSHA256 string `json:"file_sha256"`
	// Size and SHA256: the image.
	Size   int64  `json:"image_size"`
	SHA256 string `json:"image_sha256"`
	// Created is when decompression finished.
	Created time.Time `json:"created"`
}

// OpenCache opens (and creates) a cache directory. Decompressions left
// unfinished by a process that died are removed.
func OpenCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(filepath.Join(dir, "stat"), 0o755); err != nil {
		return nil, fmt.Errorf("image cache: %w", err)
	}
	c := &Cache{dir: dir, entries: map[entryKey]*entry{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	stale, _ := filepath.Glob(filepath.Join(dir, "fill-*.img"))
	for _, p := range stale {
		if f, err := os.Open(p); err == nil {
			if lockFile(f, false) == nil {
				os.Remove(p)
			}
			f.Close()
		}
	}
	return c, nil
}

// Dir returns the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// Close stops every decompression still running (their partial entries are
// removed), waits for them, and closes the cache. Images still open fail
// their waits; Close them too.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return nil
}

// Lookup returns the metadata of src's complete entry if the cache has one
// for the file as it is now, without decoding anything: `flashpipe plan`
// learns a gzip image's size this way once it has been decompressed.
func (c *Cache) Lookup(src *Source) (Meta, bool) {
	key, err := keyOf(src)
	if err != nil {
		return Meta{}, false
	}
	m, err := c.readIndex(key)
	return m, err == nil
}

// keyOf stats src's file as it is now.
func keyOf(src *Source) (entryKey, error) {
	fi, err := os.Stat(src.Path)
	if err != nil {
		return entryKey{}, fmt.Errorf("image %s: %w", src.Path, err)
	}
	return entryKey{fileID: identify(fi), Entry: src.Entry}, nil
}

// Get returns src's image from the cache. An image already complete
// opens at once; one being decompressed is shared; otherwise its
// decompression starts in the background (stopped only by failure or
// Cache.Close, not when Images close: the next stick will want it). The
// Image must be closed. A file that changed since Open read it is a
// ChangedError: what Open checked (format, size, block map) may no longer
// hold, so Open it again.
func (c *Cache) Get(src *Source) (*Image, error) {
	key, err := keyOf(src)
	if err != nil {
		return nil, err
	}
	if key.fileID != src.id {
		return nil, &ChangedError{Path: src.Path, When: "since it was opened"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("image cache is closed")
	}
	e := c.entries[key]
	if e == nil {
		if e, err = c.openEntry(key, src); err != nil {
			return nil, err
		}
		c.entries[key] = e
	}
	e.refs++
	return c.newImage(e, src), nil
}

// openEntry opens a complete entry from disk, or starts filling a new one.
// c.mu is held.
func (c *Cache) openEntry(key entryKey, src *Source) (*entry, error) {
	if m, err := c.readIndex(key); err == nil {
		f, err := os.Open(c.path(m.ID, ".img"))
		if err == nil {
			e := newEntry(c, key, src, f)
			e.ready, e.size, e.done, e.meta = m.Size, m.Size, true, m
			return e, nil
		}
	}
	f, err := os.CreateTemp(c.dir, "fill-*.img")
	if err != nil {
		return nil, fmt.Errorf("image cache: %w", err)
	}
	if err := lockFile(f, true); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("image cache: locking %s: %w", f.Name(), err)
	}
	e := newEntry(c, key, src, f)
	e.size = src.Size
	e.refs++ // the filler's
	c.wg.Add(1)
	go c.fill(e)
	return e, nil
}

// path returns the path of entry id's file with the suffix (".img",
// ".json").
func (c *Cache) path(id, suffix string) string { return filepath.Join(c.dir, id+suffix) }

// readIndex finds key's complete entry: its stat index file names the
// entry, whose metadata must exist and whose image must have its size.
func (c *Cache) readIndex(key entryKey) (Meta, error) {
	var idx struct {
		Key entryKey `json:"key"`
		ID  string   `json:"id"`
	}
	b, err := os.ReadFile(filepath.Join(c.dir, "stat", key.name()))
	if err != nil {
		return Meta{}, err
	}
	if err := json.Unmarshal(b, &idx); err != nil || idx.Key != key || strings.ContainsAny(idx.ID, "/.") {
		return Meta{}, errors.New("stale index")
	}
	var m Meta
	if b, err = os.ReadFile(c.path(idx.ID, ".json")); err != nil {
		return Meta{}, err
	}
	if err := json.Unmarshal(b, &m); err != nil || m.ID != idx.ID {
		return Meta{}, errors.New("bad metadata")
	}
	fi, err := os.Stat(c.path(m.ID, ".img"))
	if err != nil || fi.Size() != m.Size {
		return Meta{}, errors.New("image missing or of the wrong size")
	}
	return m, nil
}

// writeJSON writes v to path atomically (a temporary file renamed).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// release drops one reference to e; the last one closes its file and
// forgets it (a later Get opens the complete entry from disk, or retries a
// failed one).
func (c *Cache) release(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.refs > 0 {
		return
	}
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
	e.file.Close()
}

// forget removes a failed entry from the map at once, so that the next Get
// starts afresh while Images still hold the failed one.
func (c *Cache) forget(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
}
