package bmap

import (
	"path"
	"path/filepath"
	"strings"
)

// Candidates returns the names `bmaptool copy` tries, in order, for the
// block map of image: image + ".bmap", then the same with the image's
// extensions taken off one at a time. For "dir/x.img.xz": "dir/x.img.xz.bmap",
// "dir/x.img.bmap", "dir/x.bmap". Names use forward slashes (paths and zip
// entries alike); only the last element's extensions are taken off.
func Candidates(image string) []string {
	var names []string
	for {
		names = append(names, image+".bmap")
		dir, base := path.Split(image)
		i := strings.LastIndexByte(base, '.')
		if i <= 0 {
			return names
		}
		image = dir + base[:i]
	}
}

// PathFor returns where flashpipe writes the block map of the image file
// image: its name with the last extension replaced by .bmap — x.bmap for
// x.img, x.img.bmap for x.img.zst, as bmaptool's documentation and Yocto
// name them. It is the second of Candidates(image): `bmaptool copy` and
// bmap = "auto" find it as long as the first, image + ".bmap", does not
// exist.
func PathFor(image string) string {
	dir, base := path.Split(filepath.ToSlash(image))
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	return filepath.FromSlash(dir + base + ".bmap")
}
