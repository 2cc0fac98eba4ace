// Package sysfstest loads sysfs and procfs scenarios written as txtar
// archives (testdata/sysfs/*.txtar) into in-memory file systems that
// package matchers reads like the live /sys and /proc.
//
// Notation, one txtar file per entry:
//
//	-- sys/devices/.../block/sdb/size --       a file under the sysfs root
//	-- sys/block/sdb -> ../devices/.../sdb --  a symbolic link (relative, as sysfs makes them)
//	-- sys/devices/.../sdb/holders/ --         an empty directory
//	-- proc/self/mountinfo --                  a file under the procfs root
//
// Directories are implied by the files in them. The archive's comment
// describes the scenario. Links are stored as [fs.ModeSymlink] entries of a
// [fstest.MapFS], which implements [fs.ReadLinkFS].
package sysfstest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing/fstest"

	"golang.org/x/tools/txtar"
)

// Fixture is one loaded scenario.
type Fixture struct {
	Comment string       // the archive's comment
	Sys     fstest.MapFS // the sysfs root (what is /sys on a live system)
	Proc    fstest.MapFS // the procfs root (what is /proc)
}

// Load reads and parses the txtar archive at file.
func Load(file string) (*Fixture, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return f, nil
}

// Parse builds a Fixture from the text of a txtar archive.
func Parse(data []byte) (*Fixture, error) {
	ar := txtar.Parse(data)
	f := &Fixture{Comment: string(ar.Comment), Sys: fstest.MapFS{}, Proc: fstest.MapFS{}}
	for _, file := range ar.Files {
		name, target, isLink := strings.Cut(file.Name, " -> ")
		name = strings.TrimSpace(name)
		root, rest, ok := strings.Cut(name, "/")
		var m fstest.MapFS
		switch {
		case ok && root == "sys":
			m = f.Sys
		case ok && root == "proc":
			m = f.Proc
		default:
			return nil, fmt.Errorf("entry %q: name must start with sys/ or proc/", file.Name)
		}
		if !fs.ValidPath(path.Clean(rest)) || rest == "" {
			return nil, fmt.Errorf("entry %q: invalid path", file.Name)
		}
		switch {
		case isLink:
			m[rest] = &fstest.MapFile{Data: []byte(strings.TrimSpace(target)), Mode: fs.ModeSymlink | 0o777}
		case strings.HasSuffix(rest, "/"):
			m[strings.TrimSuffix(rest, "/")] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
		default:
			m[rest] = &fstest.MapFile{Data: file.Data, Mode: 0o444}
		}
	}
	return f, nil
}

// Mountinfo returns the fixture's proc/self/mountinfo, empty when absent.
func (f *Fixture) Mountinfo() io.Reader { return f.proc("self/mountinfo") }

// Swaps returns the fixture's proc/swaps, empty when absent.
func (f *Fixture) Swaps() io.Reader { return f.proc("swaps") }

func (f *Fixture) proc(name string) io.Reader {
	if file, ok := f.Proc[name]; ok {
		return strings.NewReader(string(file.Data))
	}
	return strings.NewReader("")
}
