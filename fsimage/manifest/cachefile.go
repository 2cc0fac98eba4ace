package manifest

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// cacheHeader starts every cache file, so a file of another format is
// ignored instead of misread.
const cacheHeader = "flashpipe-sha1-cache 1"

// Save writes the cache to path atomically (a temporary file renamed
// over it), one line per file: SHA1, size, modification time in
// nanoseconds, inode and the quoted path, tab-separated.
func (c *Cache) Save(path string) error {
	c.mu.Lock()
	lines := make([]string, 0, len(c.sums))
	for k, sum := range c.sums {
		lines = append(lines, fmt.Sprintf("%x\t%d\t%d\t%d\t%s", sum, k.size, k.mtime, k.inode, strconv.Quote(k.path)))
	}
	c.mu.Unlock()
	sort.Strings(lines)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sha1-cache-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	fmt.Fprintln(w, cacheHeader)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadCache reads a cache written by Save. A missing file gives an empty
// cache; a malformed one is an error naming the line.
func LoadCache(path string) (*Cache, error) {
	c := NewCache()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return c, c.read(f, path)
}

func (c *Cache) read(r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() || sc.Text() != cacheHeader {
		return fmt.Errorf("%s: not a flashpipe SHA1 cache (want the first line %q)", name, cacheHeader)
	}
	for line := 2; sc.Scan(); line++ {
		f := strings.SplitN(sc.Text(), "\t", 5)
		bad := len(f) != 5
		var k cacheKey
		var sum [20]byte
		if !bad {
			b, err1 := hex.DecodeString(f[0])
			var err2, err3, err4 error
			k.size, err2 = strconv.ParseInt(f[1], 10, 64)
			k.mtime, err3 = strconv.ParseInt(f[2], 10, 64)
			k.inode, err4 = strconv.ParseUint(f[3], 10, 64)
			var err5 error
			k.path, err5 = strconv.Unquote(f[4])
			bad = err1 != nil || len(b) != 20 || err2 != nil || err3 != nil || err4 != nil || err5 != nil
			copy(sum[:], b)
		}
		if bad {
			return fmt.Errorf("%s:%d: malformed cache line", name, line)
		}
		c.sums[k] = sum
	}
	return sc.Err()
}
