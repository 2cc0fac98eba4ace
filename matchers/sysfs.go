package matchers

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// maxLinkHops bounds symlink resolution, as the kernel's MAXSYMLINKS does.
const maxLinkHops = 40

// resolve returns name with every symbolic link in it replaced by its
// target, resolved inside fsys. Links must be relative and must stay inside
// the tree, which is how sysfs makes them.
func resolve(fsys fs.FS, name string) (string, error) {
	parts := strings.Split(name, "/")
	done := ""
	hops := 0
	for len(parts) > 0 {
		p := parts[0]
		parts = parts[1:]
		switch p {
		case "", ".":
			continue
		case "..":
			if done == "" {
				return "", fmt.Errorf("resolve %s: link leaves the sysfs root", name)
			}
			done = parentDir(done)
			continue
		}
		next := path.Join(done, p)
		fi, err := fs.Lstat(fsys, next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = next
			continue
		}
		if hops++; hops > maxLinkHops {
			return "", fmt.Errorf("resolve %s: too many levels of symbolic links", name)
		}
		target, err := fs.ReadLink(fsys, next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			return "", fmt.Errorf("resolve %s: absolute link %s -> %s (sysfs links are relative)", name, next, target)
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	if done == "" {
		return ".", nil
	}
	return done, nil
}

// parentDir is path.Dir with "" for the root, so that path.Join works on it.
func parentDir(p string) string {
	d := path.Dir(p)
	if d == "." || d == "/" {
		return ""
	}
	return d
}

// attr reads a sysfs attribute file and trims the trailing newline and the
// padding SCSI inquiry strings carry. ok is false when the file is absent.
func attr(fsys fs.FS, dir, name string) (value string, ok bool, err error) {
	b, err := fs.ReadFile(fsys, path.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return strings.TrimSpace(string(b)), true, nil
}

// exists reports whether dir/name exists (without following a final link).
func exists(fsys fs.FS, dir, name string) bool {
	_, err := fs.Lstat(fsys, path.Join(dir, name))
	return err == nil
}

// linkBase returns the last element of the target of the link dir/name
// ("usb" for subsystem -> ../../bus/usb), or "" when it is not a link.
func linkBase(fsys fs.FS, dir, name string) string {
	target, err := fs.ReadLink(fsys, path.Join(dir, name))
	if err != nil {
		return ""
	}
	return path.Base(target)
}
