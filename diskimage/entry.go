package diskimage

import (
	"context"
	"os"
	"sync"
)

// entry is one image in the cache, complete or filling, shared by every
// Image of it. Bytes below ready are final in file: readers never see a
// byte the decoder has not finished.
type entry struct {
	c    *Cache
	key  entryKey
	src  *Source // the Source of the Get that started it
	file *os.File
	refs int // Images, the filler and checkers; under c.mu

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	ready   int64
	size    int64 // -1 until known
	done    bool  // complete, metadata written
	err     error // decompression failed; the entry is discarded
	meta    Meta  // when done
	checks  map[string]*bmapCheck
}

func newEntry(c *Cache, key entryKey, src *Source, f *os.File) *entry {
	return &entry{c: c, key: key, src: src, file: f, changed: make(chan struct{}), size: -1}
}

// update changes e's state under its lock and wakes every waiter.
func (e *entry) update(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f()
	close(e.changed)
	e.changed = make(chan struct{})
}

// setReady publishes that the first n bytes are final.
func (e *entry) setReady(n int64) { e.update(func() { e.ready = n }) }

// wait returns when cond (called under e.mu) holds, the entry failed, or
// ctx is done. A failure wins over cond: a stick must not go on writing an
// image known to be bad.
func (e *entry) wait(ctx context.Context, cond func() bool) error {
	for {
		e.mu.Lock()
		ok, err, ch := cond(), e.err, e.changed
		e.mu.Unlock()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// state returns ready, size, done and err.
func (e *entry) state() (ready, size int64, done bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ready, e.size, e.done, e.err
}
