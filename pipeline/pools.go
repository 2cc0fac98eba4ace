package pipeline

import (
	"fmt"

	"github.com/flashpipe/flashpipe/pool"
	"github.com/hashicorp/hcl/v2"
)

// decodePools decodes the pool blocks and reads each pool file's columns,
// so that pool.NAME.row.COLUMN is checked before any stick arrives.
func (l *Loader) decodePools(cfg *Config, blocks []*hcl.Block) hcl.Diagnostics {
	blocks, diags := distinct("pool", blocks, hclIdent)
	for _, b := range blocks {
		p := &PoolBlock{Name: b.Labels[0], DeclRange: b.DefRange}
		attrs, d := decodeBody(b.Body, cfg.staticContext(), p)
		diags = append(diags, d...)
		cfg.Pools[p.Name] = p // declared even when broken: its uses add no errors of their own
		if d.HasErrors() {
			continue
		}
		file := p.CSV
		p.Format = pool.CSV
		switch {
		case p.CSV != "" && p.JSONL != "":
			diags = append(diags, errAt(rangeOf(attrs, "jsonl", b.DefRange), "Two pool files", fmt.Sprintf("pool %q has both csv and jsonl: give one.", p.Name)))
			continue
		case p.JSONL != "":
			file, p.Format = p.JSONL, pool.JSONLines
		case p.CSV == "":
			diags = append(diags, errAt(b.DefRange, "Pool without a file", fmt.Sprintf(`pool %q needs csv = "%s.csv" (a header line, then one row a line) or jsonl = "%s.jsonl" (one JSON object a line).`, p.Name, p.Name, p.Name)))
			continue
		}
		p.File = ResolvePaths(b.DefRange.Filename, []string{file})[0]
		switch p.OnFailure {
		case "":
			p.OnFailure = DefaultPoolOnFailure
		case "return", "burn":
		default:
			diags = append(diags, errAt(rangeOf(attrs, "on_failure", b.DefRange), "Invalid on_failure",
				fmt.Sprintf("on_failure = %q: use \"return\" (a failed stick's row goes back into the pool) or \"burn\" (it is spent).%s", p.OnFailure, DidYouMean(p.OnFailure, []string{"return", "burn"}))))
		}
		switch p.Record {
		case "":
			p.Record = DefaultPoolRecord
		case "value", "sha256", "none":
		default:
			diags = append(diags, errAt(rangeOf(attrs, "record", b.DefRange), "Invalid record",
				fmt.Sprintf("record = %q: use \"value\" (receipts keep the row), \"sha256\" (its hash: licence keys are secrets) or \"none\" (the row number only).%s", p.Record, DidYouMean(p.Record, []string{"value", "sha256", "none"}))))
		}
		if p.WarnBelow < 0 {
			diags = append(diags, errAt(rangeOf(attrs, "warn_below", b.DefRange), "Invalid warn_below", "warn_below is a number of rows, 0 or more."))
		}
		if l.SkipContent {
			continue
		}
		cols, rows, err := pool.Read(p.File, p.Format)
		if err != nil {
			attr := "csv"
			if p.Format == pool.JSONLines {
				attr = "jsonl"
			}
			diags = append(diags, errAt(rangeOf(attrs, attr, b.DefRange), "Cannot read the pool file", fmt.Sprintf("%s: %s.", p.File, err)))
			continue
		}
		p.Columns, p.Rows, p.rows = cols, len(rows), rows
	}
	return diags
}
