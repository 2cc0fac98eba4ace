//go:build linux

package manifest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
)

// TestHoldsAndDiffers: the cache holds a hashed file's sum for the version
// Scan recorded, and not a sum someone changed; Differs tells a write that
// set the mtime back (ctime) and a file replaced by a copy (inode) from
// the version the entry records.
func TestHoldsAndDiffers(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "a")
	src := filepath.Join(dir, "a")
	scan := func() []*fsimage.Entry { return scanOne(t, src) }
	es := scan()
	cache := NewCache()
	if err := Hash(context.Background(), es, cache, nil); err != nil {
		t.Fatal(err)
	}
	e := es[0]
	if !HasVersion(e) || !cache.Holds(e) {
		t.Fatalf("HasVersion = %v, Holds = %v after Hash, want true, true", HasVersion(e), cache.Holds(e))
	}
	stale := *e
	stale.SHA1[0] ^= 1
	if cache.Holds(&stale) {
		t.Error("Holds(entry with another SHA1) = true, want false")
	}
	for _, tc := range []struct {
		name, want string
		change     func()
	}{
		{"written, mtime set back", "status changed", func() {
			if err := os.WriteFile(src, []byte("other content"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"replaced by a copy", "inode", func() { // as rsync does: the old file renamed away
			b, _ := os.ReadFile(src)
			if err := os.Rename(src, src+".old"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(src, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		e := scan()[0]
		tc.change()
		if err := os.Truncate(src, e.Size); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(src, e.ModTime, e.ModTime); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		if why := e.Differs(fi); why != "" {
			t.Fatalf("%s: Entry.Differs = %q, want the same size and mtime", tc.name, why)
		}
		if why := Differs(e, fi); !strings.Contains(why, tc.want) {
			t.Errorf("%s: Differs = %q, want it to name the %s", tc.name, why, tc.want)
		}
	}
}

func scanOne(t *testing.T, path string) []*fsimage.Entry {
	t.Helper()
	es, err := Scan([]Source{{Paths: []string{path}}}, Options{})
	if err != nil || len(es) != 1 {
		t.Fatalf("Scan(%s) = %d entries, %v", path, len(es), err)
	}
	return es
}
