package bmap

import (
	"path"
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
