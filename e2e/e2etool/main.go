// Command e2etool answers questions about a flashpipe receipts file for the
// e2e guest, which has only busybox: no jq.
//
//	e2etool count FILE [SERIAL]        number of receipts (for SERIAL)
//	e2etool get FILE SERIAL FIELD      FIELD of the last receipt for SERIAL
//	e2etool getn FILE SERIAL N FIELD   FIELD of the Nth (1-based) receipt for SERIAL
//	e2etool bmapcmp BMAP IMAGE DISK    compare DISK with IMAGE in BMAP's mapped ranges
//	e2etool dm create NAME TABLE       make a device-mapper device (prints MAJOR:MINOR)
//	e2etool dm load NAME TABLE         load a table to take effect at the next resume
//	e2etool dm suspend NAME [noflush]  stop NAME's I/O (queued until resume)
//	e2etool dm resume NAME | remove NAME
//
// FIELD is a dotted path into the JSON object: "result", "device.port",
// "verify.ok", "verify.failed_files.0.path"; "*" as a path element joins
// every array element with commas ("verify.failed_files.*.path"); "K=V"
// picks the first array element whose field K is V
// ("steps.kind=image.details.image_sha256"). A missing field prints nothing
// and exits 0; a missing receipt exits 1.
//
// bmapcmp (see bmapcmp.go) reads a bmaptool block map itself, not with
// flashpipe's parser, so the check does not share flashpipe's mistakes.
//
// dm (see dm.go) issues the device-mapper ioctls itself, so the guest needs
// no dmsetup and its libraries: TABLE is dmsetup's format, one target per
// line or separated by ";": "START LENGTH TYPE PARAMS" in 512-byte sectors.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	usage := func() int {
		fmt.Fprintln(stderr, "usage: e2etool count FILE [SERIAL] | get FILE SERIAL FIELD | getn FILE SERIAL N FIELD | bmapcmp BMAP IMAGE DISK | dm ...")
		return 2
	}
	if len(args) < 2 {
		return usage()
	}
	if args[0] == "dm" {
		return dm(args[1:], stdout, stderr)
	}
	if args[0] == "bmapcmp" {
		if len(args) != 4 {
			return usage()
		}
		return bmapcmp(args[1], args[2], args[3], stdout, stderr)
	}
	recs, err := load(args[1])
	if err != nil {
		fmt.Fprintln(stderr, "e2etool:", err)
		return 1
	}
	switch {
	case args[0] == "count" && len(args) <= 3:
		serial := ""
		if len(args) == 3 {
			serial = args[2]
		}
		fmt.Fprintln(stdout, len(forSerial(recs, serial, len(args) == 3)))
		return 0
	case args[0] == "get" && len(args) == 4:
		return get(recs, args[2], -1, args[3], stdout, stderr)
	case args[0] == "getn" && len(args) == 5:
		n, err := strconv.Atoi(args[3])
		if err != nil || n < 1 {
			return usage()
		}
		return get(recs, args[2], n-1, args[4], stdout, stderr)
	}
	return usage()
}

func get(recs []map[string]any, serial string, idx int, field string, stdout, stderr io.Writer) int {
	mine := forSerial(recs, serial, true)
	if idx < 0 {
		idx = len(mine) - 1
	}
	if idx < 0 || idx >= len(mine) {
		fmt.Fprintf(stderr, "e2etool: no receipt #%d for serial %q (%d receipts)\n", idx+1, serial, len(mine))
		return 1
	}
	fmt.Fprintln(stdout, render(lookup(mine[idx], strings.Split(field, "."))))
	return 0
}

// load reads one JSON object per line; a line that is not JSON is an error,
// since the receipts file must hold nothing else.
func load(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		recs = append(recs, m)
	}
	return recs, sc.Err()
}

func forSerial(recs []map[string]any, serial string, filter bool) []map[string]any {
	if !filter {
		return recs
	}
	var out []map[string]any
	for _, r := range recs {
		if render(lookup(r, []string{"device", "serial"})) == serial {
			out = append(out, r)
		}
	}
	return out
}

func lookup(v any, path []string) any {
	if len(path) == 0 {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		return lookup(x[path[0]], path[1:])
	case []any:
		if path[0] == "*" {
			parts := make([]string, len(x))
			for i, e := range x {
				parts[i] = render(lookup(e, path[1:]))
			}
			return strings.Join(parts, ",")
		}
		if k, v, ok := strings.Cut(path[0], "="); ok {
			for _, e := range x {
				if render(lookup(e, []string{k})) == v {
					return lookup(e, path[1:])
				}
			}
			return nil
		}
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i >= len(x) {
			return nil
		}
		return lookup(x[i], path[1:])
	}
	return nil
}

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
