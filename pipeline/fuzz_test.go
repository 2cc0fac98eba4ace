package pipeline_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
)

// FuzzLoad feeds arbitrary bytes to the loader. It must never panic; every
// diagnostic must carry a source range in the file; a clean load must give
// a usable config whose labels evaluate for a device.
//
//	go test ./pipeline -run '^$' -fuzz FuzzLoad -fuzztime 60s
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/errors/*.hcl", "testdata/valid/*.hcl", "../examples/*.hcl"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("profile \"a\" {\n  step \"wipe\" { mode = \"qu\xffick\" }\n}\n"))
	f.Add([]byte(routingSrc))
	f.Add([]byte(labelSrc))
	reg := newLoader().Registry
	dev := &matchers.Device{Name: "sdb", Bus: "usb", VendorID: 0x0781, ProductID: 1, Serial: "S", Size: 8 << 30, Port: "1-1"}
	f.Fuzz(func(t *testing.T, src []byte) {
		// Files are resolved relative to testdata/ so that relative
		// source paths in the seeds point where they do in the fixtures.
		l := pipeline.NewLoader(reg)
		cfg, diags := l.LoadSource("testdata/errors/fuzz.hcl", src)
		for _, d := range diags {
			if d.Subject == nil {
				t.Fatalf("diagnostic %q has no range", d.Summary)
			}
		}
		if cfg == nil || diags.HasErrors() {
			return
		}
		for _, p := range cfg.Profiles {
			p.Match.Match(dev)
			if p.Layout != nil && pipeline.IsSet(p.Layout.Label) {
				pipeline.EvalString(p.Layout.Label, cfg.DeviceContext(dev, "/dev/sdb", 1, time.Unix(0, 0)))
			}
		}
	})
}
