package pipeline_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage/compile"
)

// docsRow returns the line of the table row whose first cell is `name`
// in docs/config.md's section heading, or "".
func docsRow(text, heading, name string) string {
	in := false
	for _, line := range strings.Split(text, "\n") {
		if m := headingRE.FindStringSubmatch(line); m != nil {
			in = strings.TrimSpace(m[1]) == heading
			continue
		}
		if in && strings.HasPrefix(line, "| `"+name+"` |") {
			return line
		}
	}
	return ""
}

var quotedNameRE = regexp.MustCompile("`\"([a-z0-9]+)\"`")

// TestDocsFilesystems keeps docs/config.md true to the filesystems
// compile.Filesystems lists: mkfs's type row names each, in order, with
// its summary, and no other; cluster_size gives each one's range or says
// it takes none; label gives each one's rules; the step kinds table names
// each; validate's content check says which it skips.
func TestDocsFilesystems(t *testing.T) {
	_, text := readDocs(t)
	typ := docsRow(text, `step "mkfs"`, "type")
	desc, _, _ := strings.Cut(typ, "Example:")
	var named []string
	for _, m := range quotedNameRE.FindAllStringSubmatch(desc, -1) {
		named = append(named, m[1])
	}
	if !slices.Equal(named, compile.Names()) {
		t.Errorf("docs/config.md mkfs type row names %q, want %q (compile.Filesystems)", named, compile.Names())
	}
	cluster := docsRow(text, `step "mkfs"`, "cluster_size")
	label := docsRow(text, `step "mkfs"`, "label")
	kinds := docsRow(text, `step "KIND"`, "mkfs")
	for _, fs := range compile.Filesystems() {
		if want := "`\"" + fs.Name + "\"`: " + fs.Summary; !strings.Contains(typ, want) {
			t.Errorf("docs/config.md mkfs type row does not say %s", want)
		}
		want := "not for " + fs.Name
		if fs.Clusters.Settable() {
			want = fs.Name + " " + fs.Clusters.Range()
		}
		if !strings.Contains(cluster, want) {
			t.Errorf("docs/config.md mkfs cluster_size row does not say %q", want)
		}
		if !strings.Contains(label, fs.Name+": ") {
			t.Errorf("docs/config.md mkfs label row does not give %s's label rules (%q)", fs.Name, fs.Name+": ")
		}
		if !strings.Contains(kinds, fs.Name) {
			t.Errorf("docs/config.md step kinds table: the mkfs row does not name %s", fs.Name)
		}
		skip := "not for " + fs.Name + ": its layout runs"
		if len(fs.Tools) > 0 != strings.Contains(text, skip) {
			t.Errorf("docs/config.md says %q: %v; want it exactly when %s's layout runs host programs (%q)", skip, !(len(fs.Tools) > 0), fs.Name, fs.Tools)
		}
	}
}
