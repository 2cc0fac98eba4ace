package manifest

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/flashpipe/flashpipe/fsimage"
)

// readSize is the read size used for hashing: large reads keep a disk
// streaming and the per-call overhead negligible.
const readSize = 1 << 20

// cacheKey identifies one version of a file: if any of these change, the
// file is hashed again. The status change time (ctime) is what catches a
// file written in place with its size kept and its modification time set
// back (touch -r): nobody can set it back.
type cacheKey struct {
	path  string
	size  int64
	mtime int64 // UnixNano
	ctime int64 // UnixNano; 0 when unknown
	inode uint64
}

// Cache remembers SHA1s across Hash calls, keyed by (source path, size,
// modification time, status change time, inode), so a station does not
// hash the same content again for every stick. It keeps one sum per path,
// the newest. Hash calls that run at once (the sticks a station starts
// together) share it: a file one of them is hashing is waited for by the
// others, not hashed again, so each version of a file is read once per
// station. The zero value is not usable; call NewCache. It is safe for
// concurrent use.
type Cache struct {
	mu       sync.Mutex
	sums     map[cacheKey][20]byte
	inflight map[cacheKey]chan struct{} // versions a Hash call is reading; closed when it is done
	latest   map[string]cacheKey        // path → the key of its sum
	forgot   map[string]bool            // paths Forget dropped, not hashed since
	changed  []string                   // paths hashed again as another version, since TakeChanged
	hits     int64
	misses   int64
}

// NewCache returns an empty in-memory cache.
func NewCache() *Cache {
	return &Cache{sums: map[cacheKey][20]byte{}, inflight: map[cacheKey]chan struct{}{},
		latest: map[string]cacheKey{}, forgot: map[string]bool{}}
}

func keyOf(e *fsimage.Entry) cacheKey {
	var ctime int64
	if !e.ChangeTime.IsZero() {
		ctime = e.ChangeTime.UnixNano()
	}
	return cacheKey{e.Source, e.Size, e.ModTime.UnixNano(), ctime, e.Inode}
}

// claim looks e up. It returns its sum when cached (ok); else, when
// another Hash call is reading the same version, a channel that is closed
// when that call is done; else nothing, and the caller is to hash it and
// then call put or release.
func (c *Cache) claim(e *fsimage.Entry) (sum [20]byte, ok bool, wait <-chan struct{}) {
	if c == nil {
		return sum, false, nil
	}
	k := keyOf(e)
	c.mu.Lock()
	defer c.mu.Unlock()
	if sum, ok := c.sums[k]; ok {
		c.hits++
		return sum, true, nil
	}
	if ch, ok := c.inflight[k]; ok {
		return sum, false, ch
	}
	c.misses++
	c.inflight[k] = make(chan struct{})
	return sum, false, nil
}

// release ends a claim without a sum (the hash failed): callers waiting
// for it hash the file themselves.
func (c *Cache) release(e *fsimage.Entry) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseLocked(keyOf(e))
}

func (c *Cache) releaseLocked(k cacheKey) {
	if ch, ok := c.inflight[k]; ok {
		close(ch)
		delete(c.inflight, k)
	}
}

// put records e's sum and ends the claim on it.
func (c *Cache) put(e *fsimage.Entry, sum [20]byte) {
	if c == nil {
		return
	}
	k := keyOf(e)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.latest[k.path]; (ok && old != k) || c.forgot[k.path] {
		delete(c.sums, old)
		delete(c.forgot, k.path)
		c.changed = append(c.changed, k.path)
	}
	c.sums[k] = sum
	c.latest[k.path] = k
	c.releaseLocked(k)
}

// Forget drops the sum of the file at path: the next Hash reads it again
// even if stat says nothing changed. A writer that found the file's content
// different from its sum calls it, so a change that stat cannot see costs
// one stick, not every stick after it.
func (c *Cache) Forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.latest[path]; ok {
		delete(c.sums, k)
		c.forgot[path] = true
	}
}

// TakeChanged returns the paths, sorted, that were hashed again since the
// last call because they changed after their sum was cached (or their sum
// was forgotten), and forgets them.
func (c *Cache) TakeChanged() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.changed
	c.changed = nil
	sort.Strings(ch)
	return slices.Compact(ch)
}

// Stats returns how many lookups found a sum and how many did not (and
// hashed the file); a lookup that waited for another Hash call's reading
// counts as a hit when that call found the sum.
func (c *Cache) Stats() (hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// Hash fills the SHA1 of every regular file in entries, reading files in
// parallel on every core with large reads. Files found in cache (which may
// be nil) are not read, nor are files another Hash call on the same cache
// is reading at the time: Hash waits for that call's sum. progress, when
// not nil, is called with bytes done and bytes total, serially and with
// done increasing, first once every file was looked up. A file whose size
// or modification time changed since Scan is an error naming it; so is any
// read error. Hash stops early when ctx is cancelled.
func Hash(ctx context.Context, entries []*fsimage.Entry, cache *Cache, progress func(done, total int64)) error {
	var files []*fsimage.Entry
	var total int64
	for _, e := range entries {
		if !e.Dir {
			files = append(files, e)
			total += e.Size
		}
	}
	var mu sync.Mutex
	var done int64
	report := func(n int64) {
		if progress == nil {
			return
		}
		mu.Lock()
		done += n
		progress(done, total)
		mu.Unlock()
	}
	for first := true; first || len(files) > 0; first = false {
		todo, waits, cached := claimAll(files, cache)
		if cached > 0 || first {
			report(cached)
		}
		if err := hashAll(ctx, todo, cache, report); err != nil {
			return err
		}
		// What other calls were reading: their sums, or, where they
		// failed, another round that reads them here.
		files = nil
		for _, e := range waits {
			select {
			case <-waitFor(cache, e):
			case <-ctx.Done():
				return ctx.Err()
			}
			files = append(files, e)
		}
	}
	return nil
}

// claimAll takes the sums of files the cache holds and returns their
// bytes, the files this call is to hash and those another call is hashing.
func claimAll(files []*fsimage.Entry, cache *Cache) (todo, waits []*fsimage.Entry, cached int64) {
	for _, e := range files {
		switch sum, ok, wait := cache.claim(e); {
		case ok:
			e.SHA1 = sum
			cached += e.Size
		case wait != nil:
			waits = append(waits, e)
		default:
			todo = append(todo, e)
		}
	}
	return todo, waits, cached
}

// waitFor returns a channel that is closed when no Hash call is reading
// e's version any more.
func waitFor(c *Cache, e *fsimage.Entry) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.inflight[keyOf(e)]; ok {
		return ch
	}
	ch := make(chan struct{})
	close(ch)
	return ch
}

// hashAll hashes todo on every core, largest first, and records each sum
// in cache; the first error stops it.
func hashAll(ctx context.Context, todo []*fsimage.Entry, cache *Cache, report func(int64)) error {
	// Largest first, so one big file does not start last and run alone.
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].Size > todo[j].Size })
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *fsimage.Entry)
	errs := make(chan error, len(todo)+1)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			buf := make([]byte, readSize)
			for e := range jobs {
				sum, err := HashFile(ctx, e, buf, report)
				if err != nil {
					cache.release(e)
					errs <- err
					cancel()
					continue
				}
				e.SHA1 = sum
				cache.put(e, sum)
			}
		})
	}
	i := 0
feed:
	for ; i < len(todo); i++ {
		select {
		case jobs <- todo[i]:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	for _, e := range todo[i:] {
		cache.release(e) // claimed, never started
	}
	close(errs)
	var all []error
	for err := range errs {
		if err != context.Canceled {
			all = append(all, err)
		}
	}
	if len(all) == 0 && ctx.Err() != nil {
		return ctx.Err()
	}
	if len(all) > 0 {
		sort.Slice(all, func(i, j int) bool { return all[i].Error() < all[j].Error() })
		return all[0]
	}
	return nil
}

// HashFile returns the SHA1 of e's source, read with buf, and checks that
// the file still has the size and modification time the manifest
// recorded. read, when not nil, is told of every chunk read.
func HashFile(ctx context.Context, e *fsimage.Entry, buf []byte, read func(n int64)) ([20]byte, error) {
	var sum [20]byte
	f, _, err := fsimage.OpenRegular(e.Source)
	if err != nil {
		return sum, fmt.Errorf("hash %s: %w", e.Source, err)
	}
	defer f.Close()
	h := sha1.New()
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		m, err := f.Read(buf)
		h.Write(buf[:m])
		n += int64(m)
		if read != nil && m > 0 {
			read(int64(m))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, fmt.Errorf("hash %s: %w", e.Source, err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return sum, fmt.Errorf("hash %s: %w", e.Source, err)
	}
	why := Differs(e, fi)
	if why == "" && n != e.Size {
		why = fmt.Sprintf("read %d bytes, manifest says %d", n, e.Size)
	}
	if why != "" {
		return sum, fmt.Errorf("hash %s: the file changed since it was scanned: %s", e.Source, why)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// Digest returns a stable hex digest (SHA-256) of the manifest: every
// entry's path, kind, size, permission bits and SHA1, in order. Two
// manifests with the same digest put the same bytes under the same names.
func Digest(entries []*fsimage.Entry) string {
	h := sha256.New()
	var num [8]byte
	for _, e := range entries {
		h.Write([]byte(e.Path))
		h.Write([]byte{0})
		if e.Dir {
			h.Write([]byte{'d'})
		} else {
			h.Write([]byte{'f'})
		}
		binary.LittleEndian.PutUint64(num[:], uint64(e.Size))
		h.Write(num[:])
		binary.LittleEndian.PutUint32(num[:4], uint32(e.Mode.Perm()))
		h.Write(num[:4])
		h.Write(e.SHA1[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}
