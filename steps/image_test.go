package steps_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/station"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/hashicorp/go-hclog"
)

const imageSize = 6 << 20

// rawImage writes an image of imageSize bytes to dir/disk.img: random
// data in its first and last MiB and in one MiB in the middle, zeros (a
// hole) elsewhere. It returns the path and the image's bytes.
func rawImage(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	data := make([]byte, imageSize)
	r := rand.New(rand.NewPCG(1, 2))
	for _, off := range []int{0, 3 << 20, imageSize - 1<<20} {
		for i := off; i < off+1<<20; i++ {
			data[i] = byte(r.Uint32())
		}
	}
	p := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// compress runs a compressor CLI on raw and returns the compressed file.
func compress(t *testing.T, raw, format string) string {
	t.Helper()
	var args []string
	switch format {
	case "raw":
		return raw
	case "xz":
		args = []string{"xz", "-k", "-T2", "-0", raw}
	case "zstd":
		args = []string{"zstd", "-q", "-k", raw}
	case "gzip":
		args = []string{"gzip", "-k", raw}
	case "bzip2":
		args = []string{"bzip2", "-k", raw}
	}
	testreq.Tool(t, args[0])
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	ext := map[string]string{"xz": ".xz", "zstd": ".zst", "gzip": ".gz", "bzip2": ".bz2"}[format]
	return raw + ext
}

// target makes an image file of size bytes full of 0xa5, a stick's past.
func target(t *testing.T, dir string, size int) string {
	t.Helper()
	p := filepath.Join(dir, "stick.img")
	if err := os.WriteFile(p, bytes.Repeat([]byte{0xa5}, size), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// flashImage runs a profile with an image step (and bmap, when given) and
// verify on an image file target in a station. No wipe: what the stick
// held past the image must stay.
func flashImage(t *testing.T, dir, source, bmap, tgt string) receipts.Receipt {
	t.Helper()
	src := fmt.Sprintf(`
station { image_cache = %q }
profile "img" {
  step "image" {
    source = %q
    bmap   = %q
  }
  step "verify" {}
}`, filepath.Join(dir, "cache"), source, bmap)
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource(filepath.Join(dir, "img.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatalf("LoadSource: %s", diags.Error())
	}
	st := station.New(station.Options{Config: cfg, Receipts: filepath.Join(dir, "r.jsonl"), Board: status.NewBoard(), Log: hclog.NewNullLogger()})
	return st.Flash(context.Background(), []station.Target{{Profile: cfg.Profiles[0], Path: tgt}})[0]
}

// TestImageEveryFormat writes the same image, raw and compressed in every
// format, onto a stick larger than the image: the image reads back byte
// for byte, the rest of the stick is untouched, the job is verified and
// the receipt names the image's SHA-256.
func TestImageEveryFormat(t *testing.T) {
	for _, format := range []string{"raw", "xz", "zstd", "gzip", "bzip2"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			raw, data := rawImage(t, dir)
			src := compress(t, raw, format)
			tgt := target(t, dir, imageSize+2<<20)
			rc := flashImage(t, dir, src, "", tgt)
			if rc.Result != receipts.ResultDone {
				t.Fatalf("result %q (%s), want done", rc.Result, rc.Error)
			}
			got, err := os.ReadFile(tgt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:imageSize], data) {
				t.Errorf("the stick's first %d bytes differ from the image", imageSize)
			}
			if !bytes.Equal(got[imageSize:], bytes.Repeat([]byte{0xa5}, 2<<20)) {
				t.Errorf("the stick past the image was touched")
			}
			sum := sha256.Sum256(data)
			step := rc.Steps[0]
			if step.Kind != "image" || step.Details["image_sha256"] != hex.EncodeToString(sum[:]) || step.Details["bytes_past_image"] != int64(2<<20) {
				t.Errorf("receipt image step = %+v, want the image's SHA-256 and 2 MiB untouched", step)
			}
			if rc.BytesWritten != imageSize || rc.BytesVerified < imageSize {
				t.Errorf("receipt bytes written %d, verified %d; want %d each", rc.BytesWritten, rc.BytesVerified, imageSize)
			}
		})
	}
}

// TestImageWithBmap writes only the ranges bmaptool's map lists; the
// unmapped hole keeps the stick's old bytes, and verify passes.
func TestImageWithBmap(t *testing.T) {
	testreq.Tool(t, "bmaptool")
	dir := t.TempDir()
	raw, data := rawImage(t, dir)
	// Make the zeros a real hole, so bmaptool leaves them out of the map.
	if out, err := exec.Command("fallocate", "--dig-holes", raw).CombinedOutput(); err != nil {
		t.Fatalf("fallocate --dig-holes: %v: %s", err, out)
	}
	bmap := raw + ".bmap"
	if out, err := exec.Command("bmaptool", "create", "-o", bmap, raw).CombinedOutput(); err != nil {
		t.Fatalf("bmaptool create: %v: %s", err, out)
	}
	tgt := target(t, dir, imageSize)
	rc := flashImage(t, dir, raw, "auto", tgt)
	if rc.Result != receipts.ResultDone || rc.BytesWritten != 3<<20 {
		t.Fatalf("result %q (%s), %d bytes written; want done, 3 MiB (the mapped ranges)", rc.Result, rc.Error, rc.BytesWritten)
	}
	got, _ := os.ReadFile(tgt)
	for _, off := range []int{0, 3 << 20, imageSize - 1<<20} {
		if !bytes.Equal(got[off:off+1<<20], data[off:off+1<<20]) {
			t.Errorf("mapped MiB at %d differs from the image", off)
		}
	}
	if got[1<<20] != 0xa5 {
		t.Errorf("an unmapped byte was written: %#x", got[1<<20])
	}
	if rc.Steps[0].Details["bmap"] != bmap {
		t.Errorf("receipt bmap = %v, want %s", rc.Steps[0].Details["bmap"], bmap)
	}
}

// TestImageTooBig: an image larger than the stick fails the job before a
// byte is written, naming both sizes.
func TestImageTooBig(t *testing.T) {
	dir := t.TempDir()
	raw, _ := rawImage(t, dir)
	tgt := target(t, dir, imageSize-1<<20)
	rc := flashImage(t, dir, compress(t, raw, "zstd"), "", tgt)
	if rc.Result != receipts.ResultFailed || !strings.Contains(rc.Error, "nothing written") || !strings.Contains(rc.Error, "6.3 MB") {
		t.Errorf("result %q, error %q; want failed, nothing written, both sizes", rc.Result, rc.Error)
	}
	got, _ := os.ReadFile(tgt)
	if !bytes.Equal(got, bytes.Repeat([]byte{0xa5}, imageSize-1<<20)) {
		t.Errorf("the stick was changed")
	}
}

// TestImageCombinedWithLayoutSteps: validate refuses an image step beside
// the steps it replaces.
func TestImageCombinedWithLayoutSteps(t *testing.T) {
	_, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("t.hcl", []byte(`profile "p" {
  step "partition" {}
  step "image" { source = "x.img" }
  step "verify" {}
}`))
	if !diags.HasErrors() || diags[0].Summary != `Step "partition" cannot be combined with step "image"` {
		t.Errorf("diagnostics %v, want partition refused beside image", diags)
	}
}
