package fat

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	scan "github.com/flashpipe/flashpipe/fsimage/manifest"
)

// treeFile is one path of a test tree: a directory when the path ends in
// "/", else a file of Size bytes of seeded pseudo-random content.
type treeFile struct {
	Path string
	Size int64
}

// makeTree creates files under dir and returns their manifest entries.
func makeTree(t testing.TB, dir string, files []treeFile) []*fsimage.Entry {
	t.Helper()
	for i, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(f.Path, "/")))
		if strings.HasSuffix(f.Path, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, f.Size)
		rand.New(rand.NewSource(int64(i))).Read(data)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return manifest(t, dir)
}

// manifest lists the tree under root as Volume entries, as the station's
// manifest scan does (no hashing: Build never reads file contents).
func manifest(t testing.TB, root string) []*fsimage.Entry {
	t.Helper()
	entries, err := scan.Scan([]scan.Source{{Paths: []string{root}}}, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

var toolEnv = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC")

func run(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = toolEnv
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// fsckClean runs fsck.fat -n -S -U (no spaces inside short names, upper
// case labels only) on img and fails unless it exits 0 and
// reports nothing beyond its banner and summary line.
func fsckClean(t testing.TB, img string) {
	t.Helper()
	if out, ok := fsck(t, img); !ok {
		t.Fatalf("fsck.fat -n -S -U %s:\n%s", img, out)
	}
}

// fsck reports fsck.fat's output and whether it found img clean.
func fsck(t testing.TB, img string) (string, bool) {
	t.Helper()
	out, err := run(t, "fsck.fat", "-n", "-S", "-U", img)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return fmt.Sprintf("%s(exit: %v)", out, err), err == nil && len(lines) == 2 && !strings.Contains(out, "Fix?")
}

// extract copies the whole filesystem in img (at byte offset off) into a
// new directory with mcopy and returns it.
func extract(t testing.TB, img string, off int64) string {
	t.Helper()
	out := t.TempDir()
	spec := img
	if off != 0 {
		spec = img + "@@" + strconv.FormatInt(off, 10)
	}
	if msg, err := run(t, "mcopy", "-s", "-m", "-i", spec, "::/", out); err != nil {
		t.Fatalf("mcopy -s -i %s ::/ %s: %v\n%s", spec, out, err, msg)
	}
	return out
}

var testNow = time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)
