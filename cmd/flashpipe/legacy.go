package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
)

// legacyFlags are the original python-flashstation's flags. With -c, a
// command needs no config file: it builds the implicit profile.
type legacyFlags struct {
	clone      []string
	exclude    []string
	label      string
	tmpMount   string
	concurrent int
	// layout, for build and flash
	fs    string
	table string
}

func (f *legacyFlags) register(cmd *cobra.Command, layout bool) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.clone, "clone", "c", nil, "copy the contents of PATH to every stick (repeatable); no config file needed")
	fl.StringArrayVarP(&f.exclude, "exclude", "x", nil, "leave out files with extension EXT, e.g. -x jpg (repeatable)")
	fl.StringVar(&f.label, "label", "", "volume label of every stick (may be an expression, e.g. 'format(\"EXPO%03d\", job.seq)')")
	fl.StringVar(&f.tmpMount, "tmp-mount", "", "accepted for compatibility; flashpipe never mounts to copy (it writes the filesystem image directly)")
	if layout {
		fl.StringVar(&f.fs, "fs", "vfat", "filesystem: vfat, exfat or ext4")
		fl.StringVar(&f.table, "table", "mbr", "partition table: mbr, gpt or none")
	}
}

func (f *legacyFlags) active() bool { return len(f.clone) > 0 }

// config renders the implicit profile as HCL, so it goes through the same
// loader and compiler as a file: any allowed stick; wipe quick; partition;
// mkfs; copy; verify sha1; label; eject.
func (f *legacyFlags) config(eject bool) ([]byte, error) {
	file := hclwrite.NewEmptyFile()
	body := file.Body()
	if f.concurrent > 0 {
		st := body.AppendNewBlock("station", nil).Body()
		st.SetAttributeValue("name", cty.StringVal("flashpipe"))
		st.SetAttributeValue("concurrency", cty.NumberIntVal(int64(f.concurrent)))
	}
	var paths []cty.Value
	for _, c := range f.clone {
		abs, err := filepath.Abs(c)
		if err != nil {
			return nil, err
		}
		paths = append(paths, cty.StringVal(abs))
	}
	src := body.AppendNewBlock("source", []string{"clone"}).Body()
	src.SetAttributeValue("paths", cty.ListVal(paths))
	if len(f.exclude) > 0 {
		var ex []cty.Value
		for _, x := range f.exclude {
			x = strings.TrimPrefix(x, ".")
			if x == "" || strings.ContainsAny(x, "/*?[]{}") {
				return nil, fmt.Errorf("-x %q: give a file extension such as jpg", x)
			}
			ex = append(ex, cty.StringVal("**/*."+x))
		}
		src.SetAttributeValue("exclude", cty.ListVal(ex))
	}
	body.AppendNewline()
	p := body.AppendNewBlock("profile", []string{"clone"}).Body()
	p.AppendNewBlock("match", nil)
	p.AppendNewBlock("step", []string{"wipe"}).Body().SetAttributeValue("mode", cty.StringVal("quick"))
	table, fs := f.table, f.fs
	if table == "" {
		table = "mbr"
	}
	if fs == "" {
		fs = "vfat"
	}
	p.AppendNewBlock("step", []string{"partition"}).Body().SetAttributeValue("table", cty.StringVal(table))
	p.AppendNewBlock("step", []string{"mkfs"}).Body().SetAttributeValue("type", cty.StringVal(fs))
	p.AppendNewBlock("step", []string{"copy"}).Body().SetAttributeRaw("sources", hclwrite.TokensForTuple([]hclwrite.Tokens{
		hclwrite.TokensForTraversal(hcl.Traversal{hcl.TraverseRoot{Name: "source"}, hcl.TraverseAttr{Name: "clone"}}),
	}))
	p.AppendNewBlock("step", []string{"verify"}).Body().SetAttributeValue("hash", cty.StringVal("sha1"))
	if f.label != "" {
		lb := p.AppendNewBlock("step", []string{"label"}).Body()
		lb.SetAttributeRaw("label", labelTokens(f.label))
	}
	if eject {
		p.AppendNewBlock("step", []string{"eject"})
	}
	return hclwrite.Format(file.Bytes()), nil
}

// labelTokens writes a label that is either a plain string or, when it
// looks like a function call, an expression.
func labelTokens(label string) hclwrite.Tokens {
	if strings.Contains(label, "(") && strings.HasSuffix(label, ")") {
		return hclwrite.Tokens{{Type: hclsyntax.TokenIdent, Bytes: []byte(label)}}
	}
	return hclwrite.TokensForValue(cty.StringVal(label))
}
