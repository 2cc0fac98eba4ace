package fsimage

import "fmt"

// Overlay returns extents with patches laid over them: every byte a patch
// covers is cut out of the extent that held it (a data extent's source
// offset and a Bytes extent's data follow the cut) and the patch takes its
// place. Both lists must be sorted and without overlaps; patches may lie
// where no extent is (they are written too). An image's plan gets its
// per-stick label this way: one write, and verify compares the patched
// sectors byte for byte.
func Overlay(extents, patches []Extent) ([]Extent, error) {
	for _, list := range [][]Extent{extents, patches} {
		if err := (&Plan{Extents: list}).Check(); err != nil {
			return nil, fmt.Errorf("overlay: %w", err)
		}
	}
	out := make([]Extent, 0, len(extents)+2*len(patches))
	for _, e := range extents {
		out = append(out, cutOut(e, patches)...)
	}
	out = append(out, patches...)
	SortExtents(out)
	return out, nil
}

// cutOut returns the parts of e that no patch covers.
func cutOut(e Extent, patches []Extent) []Extent {
	var out []Extent
	cur := e.Offset
	for _, p := range patches {
		if p.End() <= cur || p.Offset >= e.End() {
			continue
		}
		if p.Offset > cur {
			out = append(out, slice(e, cur, p.Offset))
		}
		cur = p.End()
	}
	if cur < e.End() {
		out = append(out, slice(e, cur, e.End()))
	}
	return out
}

// slice returns the part [from, to) of e, device offsets inside it.
func slice(e Extent, from, to int64) Extent {
	d := from - e.Offset
	s := e
	s.Offset, s.Length = from, to-from
	switch e.Kind {
	case Bytes:
		s.Data = e.Data[d : d+s.Length]
	case FileData, ReaderData:
		s.SourceOffset = e.SourceOffset + d
	}
	return s
}
