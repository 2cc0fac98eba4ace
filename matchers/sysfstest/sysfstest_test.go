package sysfstest

import (
	"io"
	"io/fs"
	"testing"
)

func TestParse(t *testing.T) {
	fx, err := Parse([]byte("A scenario.\n" +
		"-- sys/devices/virtual/block/loop0/size --\n131072\n" +
		"-- sys/devices/virtual/block/loop0/holders/ --\n" +
		"-- sys/block/loop0 -> ../devices/virtual/block/loop0 --\n" +
		"-- proc/swaps --\nFilename Type\n"))
	if err != nil {
		t.Fatal(err)
	}
	if fx.Comment != "A scenario.\n" {
		t.Errorf("Comment = %q, want %q", fx.Comment, "A scenario.\n")
	}
	if got, err := fs.ReadLink(fx.Sys, "block/loop0"); err != nil || got != "../devices/virtual/block/loop0" {
		t.Errorf("ReadLink(block/loop0) = %q, %v, want the link target", got, err)
	}
	if got, err := fs.ReadFile(fx.Sys, "block/loop0/size"); err != nil || string(got) != "131072\n" {
		t.Errorf("ReadFile(block/loop0/size) through the link = %q, %v, want %q", got, err, "131072\n")
	}
	if ents, err := fs.ReadDir(fx.Sys, "devices/virtual/block/loop0/holders"); err != nil || len(ents) != 0 {
		t.Errorf("ReadDir(holders) = %v, %v, want an empty directory", ents, err)
	}
	if b, _ := io.ReadAll(fx.Swaps()); string(b) != "Filename Type\n" {
		t.Errorf("Swaps() = %q, want %q", b, "Filename Type\n")
	}
	if b, _ := io.ReadAll(fx.Mountinfo()); len(b) != 0 {
		t.Errorf("Mountinfo() = %q, want empty", b)
	}
	for _, bad := range []string{"-- etc/passwd --\nx\n", "-- sys/../x --\n", "-- sys/ --\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) = nil error, want an error", bad)
		}
	}
}
