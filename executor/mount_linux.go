//go:build linux

package executor

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flashpipe/flashpipe/fsimage"
	"golang.org/x/sys/unix"
)

// MountCheck is the result of VerifyMount.
type MountCheck struct {
	// Supported is false when the kernel could not mount the filesystem
	// type (ENODEV: no vfat/exfat driver); then nothing was checked and OK
	// is false.
	Supported bool
	// OK is true only when the mounted tree holds exactly the entries, with
	// the same kinds, sizes and SHA1s.
	OK         bool
	Missing    []string // entries not found in the tree
	Extra      []string // files or directories in the tree that no entry lists
	Mismatched []string // "path: reason" for a wrong kind, size or content
	// Message summarises the result for receipts.Verify.Mount.
	Message string
}

// VerifyMount mounts devPath (a partition or superfloppy block device)
// read-only at mountDir as m says (the plan's Mount, from the filesystem's
// descriptor), walks the tree and compares it with entries: every entry
// present with the same kind, size and SHA1, and no other files but the
// directories the filesystem makes itself (m.Own: ext4's lost+found). It
// unmounts before returning. When the kernel has no driver for the
// filesystem the result says so with Supported=false and OK=false: never
// a pass. Other mount failures are returned as errors.
func VerifyMount(ctx context.Context, devPath string, m fsimage.Mount, entries []*fsimage.Entry, mountDir string) (*MountCheck, error) {
	res := &MountCheck{}
	fstype := m.Type
	const flags = unix.MS_RDONLY | unix.MS_NODEV | unix.MS_NOSUID | unix.MS_NOEXEC
	if err := unix.Mount(devPath, mountDir, fstype, flags, ""); err != nil {
		if errors.Is(err, unix.ENODEV) {
			res.Message = fmt.Sprintf("not checked: this kernel cannot mount %s (ENODEV)", fstype)
			return res, nil
		}
		return res, &Error{Step: "mount check", Device: devPath, Err: fmt.Errorf("mount %s at %s: %w", fstype, mountDir, err)}
	}
	res.Supported = true
	err := compareTree(ctx, mountDir, m.Own, entries, res)
	if uerr := unix.Unmount(mountDir, 0); uerr != nil && err == nil {
		err = fmt.Errorf("unmount %s: %w", mountDir, uerr)
	}
	res.OK = err == nil && len(res.Missing)+len(res.Extra)+len(res.Mismatched) == 0
	switch {
	case err != nil:
		res.Message = "failed: " + err.Error()
	case res.OK:
		res.Message = fmt.Sprintf("ok: %d entries match the mounted %s tree", len(entries), fstype)
	default:
		res.Message = fmt.Sprintf("mismatch: %d missing, %d extra, %d different", len(res.Missing), len(res.Extra), len(res.Mismatched))
	}
	if err != nil {
		return res, &Error{Step: "mount check", Device: devPath, Err: err}
	}
	return res, nil
}

// compareTree walks root and fills res. own are top-level directories
// the filesystem makes itself, allowed beyond entries.
func compareTree(ctx context.Context, root string, own []string, entries []*fsimage.Entry, res *MountCheck) error {
	want := make(map[string]*fsimage.Entry, len(entries))
	for _, e := range entries {
		want[e.Path] = e
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		e := want[rel]
		if e == nil {
			if d.IsDir() && slices.Contains(own, rel) {
				return fs.SkipDir
			}
			res.Extra = append(res.Extra, rel)
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		seen[rel] = true
		if msg := compareEntry(p, d, e); msg != "" {
			res.Mismatched = append(res.Mismatched, rel+": "+msg)
		}
		return nil
	})
	for _, e := range entries {
		if !seen[e.Path] {
			res.Missing = append(res.Missing, e.Path)
		}
	}
	return err
}

// compareEntry returns why the file at p differs from e, or "".
func compareEntry(p string, d fs.DirEntry, e *fsimage.Entry) string {
	if d.IsDir() != e.Dir {
		return fmt.Sprintf("is a directory: %v, want %v", d.IsDir(), e.Dir)
	}
	if e.Dir {
		return ""
	}
	f, err := os.Open(p)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	h := sha1.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "read: " + err.Error()
	}
	if n != e.Size {
		return fmt.Sprintf("size %d, want %d", n, e.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); e.SHA1 != ([20]byte{}) && got != hex.EncodeToString(e.SHA1[:]) {
		return fmt.Sprintf("SHA1 %s, want %s", got, hex.EncodeToString(e.SHA1[:]))
	}
	return ""
}

// String returns Message.
func (m *MountCheck) String() string { return strings.TrimSpace(m.Message) }
