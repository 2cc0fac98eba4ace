package manifest

import (
	"context"
	"crypto/sha1"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
)

// tree creates files under dir: a name ending in "/" is a directory,
// anything else a file holding its own name.
func tree(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, n)
		if strings.HasSuffix(n, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func paths(es []*fsimage.Entry) []string {
	var out []string
	for _, e := range es {
		p := e.Path
		if e.Dir {
			p += "/"
		}
		out = append(out, p)
	}
	return out
}

func TestScanSelect(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "a/x.jpg", "a/y.txt", "a/.git/config", "a/b/z.jpg", "a/empty/", "a/skip/c.jpg", "f.bin")
	cases := []struct {
		name string
		src  Source
		want []string
	}{
		{"all", Source{Paths: []string{"a"}},
			[]string{".git/", ".git/config", "b/", "b/z.jpg", "empty/", "skip/", "skip/c.jpg", "x.jpg", "y.txt"}},
		{"include", Source{Paths: []string{"a"}, Include: []string{"**/*.jpg"}},
			[]string{"b/", "b/z.jpg", "skip/", "skip/c.jpg", "x.jpg"}},
		{"exclude dir", Source{Paths: []string{"a"}, Include: []string{"**/*.jpg"}, Exclude: []string{"skip", "**/.git"}},
			[]string{"b/", "b/z.jpg", "x.jpg"}},
		{"exclude glob", Source{Paths: []string{"a"}, Exclude: []string{"**/*.jpg", ".git/**"}},
			[]string{"b/", "empty/", "skip/", "y.txt"}},
		{"dest", Source{Paths: []string{"a/b", "f.bin"}, Dest: "/media/pics/"},
			[]string{"media/", "media/pics/", "media/pics/f.bin", "media/pics/z.jpg"}},
		{"file include miss", Source{Paths: []string{"f.bin"}, Include: []string{"*.jpg"}, Dest: "d"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es, err := Scan([]Source{c.src}, Options{Base: dir})
			if err != nil {
				t.Fatalf("Scan() error = %v", err)
			}
			if diff := cmp.Diff(c.want, paths(es)); diff != "" {
				t.Errorf("Scan() paths (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanRecords(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "s/d/f.txt")
	mt := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC)
	f := filepath.Join(dir, "s/d/f.txt")
	os.Chtimes(f, mt, mt)
	os.Chmod(f, 0o640)
	es, err := Scan([]Source{{Paths: []string{filepath.Join(dir, "s")}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	syscall.Stat(f, &st)
	want := &fsimage.Entry{Path: "d/f.txt", Source: f, Size: 9, Mode: 0o640, ModTime: mt, Inode: st.Ino,
		ChangeTime: time.Unix(st.Ctim.Sec, st.Ctim.Nsec)}
	if diff := cmp.Diff(want, es[1], cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("Scan() entry (-want +got):\n%s", diff)
	}
	if !es[0].Dir || es[0].Path != "d" {
		t.Errorf("Scan()[0] = %+v, want dir d", es[0])
	}
}

func problems(t *testing.T, err error) map[string]string {
	t.Helper()
	var se *ScanError
	if !errors.As(err, &se) {
		t.Fatalf("Scan() error = %v, want *ScanError", err)
	}
	m := map[string]string{}
	for _, p := range se.Problems {
		m[filepath.Base(p.Path)] = p.Reason
	}
	return m
}

func wantProblems(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for name, sub := range want {
		if !strings.Contains(got[name], sub) {
			t.Errorf("Scan() problem for %s = %q, want it to mention %q", name, got[name], sub)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Scan() problems = %v, want exactly %v", got, want)
	}
}

func TestScanSymlinks(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "root/real/f.txt", "outside.txt")
	root := filepath.Join(dir, "root")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("real/f.txt", filepath.Join(root, "in-file")))
	must(os.Symlink("real", filepath.Join(root, "in-dir")))
	es, err := Scan([]Source{{Paths: []string{root}}}, Options{})
	if err != nil {
		t.Fatalf("Scan(inside links) error = %v", err)
	}
	if diff := cmp.Diff([]string{"in-dir/", "in-dir/f.txt", "in-file", "real/", "real/f.txt"}, paths(es)); diff != "" {
		t.Errorf("Scan(inside links) (-want +got):\n%s", diff)
	}
	if es[2].Source != filepath.Join(root, "real/f.txt") || es[2].Size != int64(len("root/real/f.txt")) {
		t.Errorf("Scan() link entry = %+v, want the target's source and size", es[2])
	}

	must(os.Symlink("../outside.txt", filepath.Join(root, "out")))
	must(os.Symlink("..", filepath.Join(root, "real", "up")))
	must(os.Symlink("self", filepath.Join(root, "self")))
	must(os.Symlink("nowhere", filepath.Join(root, "dangling")))
	_, err = Scan([]Source{{Paths: []string{root}}}, Options{})
	got := problems(t, err)
	// "up" is reached twice: through real/ and through in-dir/.
	wantProblems(t, got, map[string]string{
		"out": "out of the source root", "up": "loop", "self": "loop", "dangling": "dangling",
	})
}

func TestScanSpecialAndCollisions(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "a/same.txt", "a/d/x", "b/same.txt", "b/d/y", "c/sub/")
	if err := syscall.Mkfifo(filepath.Join(dir, "a", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Scan([]Source{{Paths: []string{"a"}}, {Paths: []string{"b", "c"}}}, Options{Base: dir})
	got := problems(t, err)
	wantProblems(t, got, map[string]string{"fifo": "fifo", "same.txt": filepath.Join(dir, "a", "same.txt")})
	// Directories merge: d holds x and y without complaint.
	os.Remove(filepath.Join(dir, "a", "fifo"))
	os.Remove(filepath.Join(dir, "b", "same.txt"))
	es, err := Scan([]Source{{Paths: []string{"a"}}, {Paths: []string{"b", "c"}}}, Options{Base: dir})
	if err != nil {
		t.Fatalf("Scan(merged dirs) error = %v", err)
	}
	if diff := cmp.Diff([]string{"d/", "d/x", "d/y", "same.txt", "sub/"}, paths(es)); diff != "" {
		t.Errorf("Scan(merged dirs) (-want +got):\n%s", diff)
	}
}

func TestScanUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		// Root reads every file: run this test again as nobody.
		rerunAsNobody(t)
		return
	}
	dir := t.TempDir()
	tree(t, dir, "s/secret", "s/locked/x", "s/ok")
	os.Chmod(filepath.Join(dir, "s/secret"), 0)
	os.Chmod(filepath.Join(dir, "s/locked"), 0)
	defer os.Chmod(filepath.Join(dir, "s/locked"), 0o755)
	_, err := Scan([]Source{{Paths: []string{filepath.Join(dir, "s")}}}, Options{})
	wantProblems(t, problems(t, err), map[string]string{"secret": "unreadable", "locked": "cannot read"})
}

func TestScanMissingSource(t *testing.T) {
	_, err := Scan([]Source{{Paths: []string{"/nonexistent/flashpipe"}}, {Paths: []string{"x"}, Exclude: []string{"[a"}}}, Options{})
	wantProblems(t, problems(t, err), map[string]string{"flashpipe": "no such file", "source 2": "invalid pattern"})
}

func TestHashAndCache(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for i := 0; i < 30; i++ {
		names = append(names, filepath.Join("d", strings.Repeat("n", i+1)))
	}
	tree(t, dir, names...)
	big := filepath.Join(dir, "d", "big")
	data := make([]byte, 3*readSize+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	os.WriteFile(big, data, 0o644)
	es, err := Scan([]Source{{Paths: []string{filepath.Join(dir, "d")}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cache := NewCache()
	var last, total int64
	if err := Hash(context.Background(), es, cache, func(d, tot int64) {
		if d < last {
			t.Errorf("progress went back from %d to %d", last, d)
		}
		last, total = d, tot
	}); err != nil {
		t.Fatalf("Hash() error = %v", err)
	}
	for _, e := range es {
		content, _ := os.ReadFile(e.Source)
		if e.SHA1 != sha1.Sum(content) {
			t.Errorf("Hash() SHA1 of %s = %x, want %x", e.Path, e.SHA1, sha1.Sum(content))
		}
	}
	if last != total || total != int64(len(data))+int64(30*31/2)+30*2 {
		t.Errorf("progress = %d/%d, want all of %d", last, total, int64(len(data))+30*31/2+30*2)
	}
	d1 := Digest(es)

	// Nothing changed: every sum comes from the cache.
	es2, _ := Scan([]Source{{Paths: []string{filepath.Join(dir, "d")}}}, Options{})
	if err := Hash(context.Background(), es2, cache, nil); err != nil {
		t.Fatal(err)
	}
	if hits, misses := cache.Stats(); hits != 31 || misses != 31 {
		t.Errorf("cache Stats() = %d hits, %d misses, want 31, 31", hits, misses)
	}
	if got := Digest(es2); got != d1 {
		t.Errorf("Digest() after cache hit = %s, want %s", got, d1)
	}
	if ch := cache.TakeChanged(); len(ch) != 0 {
		t.Errorf("TakeChanged() with nothing changed = %v, want none", ch)
	}
	// A new mtime invalidates the entry.
	later := time.Now().Add(time.Hour)
	os.Chtimes(big, later, later)
	es3, _ := Scan([]Source{{Paths: []string{filepath.Join(dir, "d")}}}, Options{})
	if err := Hash(context.Background(), es3, cache, nil); err != nil {
		t.Fatal(err)
	}
	if hits, misses := cache.Stats(); hits != 61 || misses != 32 {
		t.Errorf("cache Stats() after touching big = %d hits, %d misses, want 61, 32", hits, misses)
	}
	if ch := cache.TakeChanged(); len(ch) != 1 || ch[0] != big {
		t.Errorf("TakeChanged() after touching big = %v, want [%s]", ch, big)
	}
}

// TestHashCacheSeesTouchR: content written in place with the same size and
// the modification time set back (touch -r) has a new ctime, so the cache
// does not hand out the old sum, which every later stick's write would
// then fail against ("changed since it was scanned").
func TestHashCacheSeesTouchR(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "d/a", "d/b")
	f := filepath.Join(dir, "d", "a")
	cache := NewCache()
	scanHash := func() []*fsimage.Entry {
		t.Helper()
		es, err := Scan([]Source{{Paths: []string{filepath.Join(dir, "d")}}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := Hash(context.Background(), es, cache, nil); err != nil {
			t.Fatal(err)
		}
		return es
	}
	scanHash()
	fi, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // past the clock tick of the first write's ctime
	newData := []byte(strings.Repeat("X", int(fi.Size())))
	if err := os.WriteFile(f, newData, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(f, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	es := scanHash()
	if es[0].Path != "a" || es[0].SHA1 != sha1.Sum(newData) {
		t.Errorf("Hash() after a same-size write with the mtime restored: %s %x, want the new content's %x", es[0].Path, es[0].SHA1, sha1.Sum(newData))
	}
	if ch := cache.TakeChanged(); len(ch) != 1 || ch[0] != f {
		t.Errorf("TakeChanged() = %v, want [%s]", ch, f)
	}

	// A change stat cannot see: Forget makes the next Hash read it again.
	cache.Forget(f)
	_, missesBefore := cache.Stats()
	scanHash()
	if _, misses := cache.Stats(); misses != missesBefore+1 {
		t.Errorf("cache misses after Forget(a) = %d, want %d (a hashed again)", misses, missesBefore+1)
	}
	if ch := cache.TakeChanged(); len(ch) != 1 || ch[0] != f {
		t.Errorf("TakeChanged() after Forget = %v, want [%s]", ch, f)
	}
}

// TestScanRefusesSpecialSources: a FIFO, /dev/null or /dev/zero given as
// a source path is refused with its kind named; none is opened (a FIFO
// would block Scan forever, /dev/zero would never end, /dev/null would
// become an empty file called null).
func TestScanRefusesSpecialSources(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe")
	imagetest.FIFO(t, fifo)
	for _, tc := range []struct{ path, kind string }{
		{fifo, "fifo"}, {"/dev/null", "character device"}, {"/dev/zero", "character device"},
	} {
		var err error
		imagetest.Within(t, 5*time.Second, fifo, "Scan("+tc.path+")", func() {
			_, err = Scan([]Source{{Paths: []string{tc.path}}}, Options{})
		})
		want := "it is a " + tc.kind + ": a source path must be a regular file or a directory"
		wantProblems(t, problems(t, err), map[string]string{filepath.Base(tc.path): want})
	}
}

// TestHashRefusesFIFO: a content file replaced by a FIFO after the scan
// fails the hash at once instead of blocking in open.
func TestHashRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "d/f")
	es, err := Scan([]Source{{Paths: []string{filepath.Join(dir, "d")}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "d", "f")
	os.Remove(f)
	imagetest.FIFO(t, f)
	imagetest.Within(t, 5*time.Second, f, "Hash", func() { err = Hash(context.Background(), es, nil, nil) })
	if err == nil || !strings.Contains(err.Error(), f+" is a fifo, not a regular file") {
		t.Errorf("Hash(source replaced by a FIFO) = %v, want an error saying it is a fifo", err)
	}
}

func TestHashChangedFile(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "d/f")
	es, _ := Scan([]Source{{Paths: []string{filepath.Join(dir, "d")}}}, Options{})
	os.WriteFile(filepath.Join(dir, "d/f"), []byte("longer now"), 0o644)
	err := Hash(context.Background(), es, nil, nil)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "d/f")) || !strings.Contains(err.Error(), "changed") {
		t.Errorf("Hash(changed file) error = %v, want one naming the file as changed", err)
	}
}

func TestDigestStable(t *testing.T) {
	a := []*fsimage.Entry{{Path: "a", Dir: true, Mode: os.ModeDir | 0o755}, {Path: "a/b", Size: 3, Mode: 0o644, SHA1: [20]byte{1}}}
	b := []*fsimage.Entry{{Path: "a", Dir: true, Mode: os.ModeDir | 0o755}, {Path: "a/b", Size: 3, Mode: 0o644, SHA1: [20]byte{2}}}
	if Digest(a) != Digest(a) || Digest(a) == Digest(b) {
		t.Errorf("Digest() not stable or not sensitive to SHA1: %s %s", Digest(a), Digest(b))
	}
}

// rerunAsNobody runs the calling test in a copy of the test binary as user
// nobody (uid and gid 65534) and fails if it fails there.
func rerunAsNobody(t *testing.T) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "flashpipe-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "manifest.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o1777); err != nil { // nobody makes its temp dirs here
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^"+t.Name()+"$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Errorf("%s as nobody: %v\n%s", t.Name(), err, out)
	}
}

// concurrentTree makes a directory with one file of several reads and
// three small ones, and returns a function that scans it afresh, as each
// stick's preparation does.
func concurrentTree(t *testing.T) (scan func() []*fsimage.Entry, files int64) {
	t.Helper()
	dir := t.TempDir()
	tree(t, dir, "d/a", "d/b", "d/c")
	big := make([]byte, 3*readSize)
	for i := range big {
		big[i] = byte(i * 13)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	return func() []*fsimage.Entry {
		t.Helper()
		es, err := Scan([]Source{{Paths: []string{filepath.Join(dir, "d")}}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return es
	}, 4
}

// whileHashing runs Hash on entries a with cache and, once it has read its
// first bytes, Hash on entries b with the same cache; a's reading goes on
// only after b has looked every file up. It returns both errors. cancelA
// cancels a's context at that point instead.
func whileHashing(t *testing.T, cache *Cache, a, b []*fsimage.Entry, cancelA bool) (errA, errB error) {
	t.Helper()
	ctxA, cancel := context.WithCancel(context.Background())
	defer cancel()
	bDone := make(chan error, 1)
	started := false
	errA = Hash(ctxA, a, cache, func(done, total int64) {
		if done == 0 || started {
			return
		}
		started = true
		looked := make(chan struct{})
		var once bool
		go func() {
			bDone <- Hash(context.Background(), b, cache, func(int64, int64) {
				if !once {
					once = true
					close(looked) // b's first report comes after its lookups
				}
			})
		}()
		<-looked
		if cancelA {
			cancel()
		}
	})
	if !started {
		t.Fatal("Hash(a) reported no bytes read")
	}
	return errA, <-bDone
}

func checkSums(t *testing.T, what string, es []*fsimage.Entry) {
	t.Helper()
	for _, e := range es {
		if e.Dir {
			continue
		}
		content, err := os.ReadFile(e.Source)
		if err != nil {
			t.Fatal(err)
		}
		if e.SHA1 != sha1.Sum(content) {
			t.Errorf("%s: SHA1 of %s = %x, want %x", what, e.Path, e.SHA1, sha1.Sum(content))
		}
	}
}

// TestHashConcurrentCallsReadOnce: sticks prepared at once share the
// cache, and a file one call is reading is not read again by another: it
// waits for the sum. Before, every stick started together hashed the whole
// content itself.
func TestHashConcurrentCallsReadOnce(t *testing.T) {
	scan, files := concurrentTree(t)
	cache := NewCache()
	a, b := scan(), scan()
	errA, errB := whileHashing(t, cache, a, b, false)
	if errA != nil || errB != nil {
		t.Fatalf("Hash() errors = %v, %v", errA, errB)
	}
	checkSums(t, "first call", a)
	checkSums(t, "second call", b)
	if hits, misses := cache.Stats(); misses != files || hits != files {
		t.Errorf("cache Stats() = %d hits, %d misses, want %d, %d: each file read once, by the first call", hits, misses, files, files)
	}
}

// TestHashConcurrentCallerFails: when the call reading a file fails (here
// it is cancelled), the call waiting for it reads the file itself.
func TestHashConcurrentCallerFails(t *testing.T) {
	scan, files := concurrentTree(t)
	cache := NewCache()
	a, b := scan(), scan()
	errA, errB := whileHashing(t, cache, a, b, true)
	if !errors.Is(errA, context.Canceled) {
		t.Errorf("Hash(cancelled) = %v, want context.Canceled", errA)
	}
	if errB != nil {
		t.Fatalf("Hash() waiting for a cancelled call = %v, want it to hash the files itself", errB)
	}
	checkSums(t, "waiting call", b)
	if _, misses := cache.Stats(); misses < files+1 {
		t.Errorf("cache misses = %d, want more than %d: the waiting call read what the cancelled one left", misses, files)
	}
}
