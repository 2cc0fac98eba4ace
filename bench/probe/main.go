// Command probe times the probe (package probe) on one stick and prints
// what it found, its time and the bytes it wrote and read, one line:
//
//	probe -dev /dev/loop3                        a block device
//	probe -fake wrap -claimed 64000000000 -real 8000000000 -cache 16777216 \
//	      -write-bps 20000000 -read-bps 40000000 an in-process fake stick
//
// -fake takes genuine, wrap, zeros, ones or stale (blockdev/fakedev); its
// speeds stand in for a throttle: the flash writes -write-bps and reads
// -read-bps, the cache takes writes at ten times -write-bps. probe.sh next
// to it sets up throttled loop devices.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/blockdev/fakedev"
	"github.com/flashpipe/flashpipe/probe"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func run() error {
	dev := flag.String("dev", "", "block device to probe")
	fake := flag.String("fake", "", "probe an in-process fake: genuine, wrap, zeros, ones or stale")
	claimed := flag.Int64("claimed", 64_000_000_000, "the fake's claimed size, bytes")
	real := flag.Int64("real", 8_000_000_000, "the fake's real size, bytes")
	cache := flag.Int64("cache", 0, "the fake's lying write cache, bytes")
	wbps := flag.Float64("write-bps", 20e6, "the fake's write rate, bytes/s")
	rbps := flag.Float64("read-bps", 40e6, "the fake's read rate, bytes/s")
	flag.Parse()
	var d *blockdev.Device
	var err error
	switch {
	case *dev != "":
		if d, err = blockdev.Open(*dev, blockdev.Options{}); err != nil {
			return err
		}
		defer d.Close()
	case *fake != "":
		if d, err = fakeStick(*fake, *claimed&^4095, *real&^4095, *cache, *wbps, *rbps); err != nil {
			return err
		}
	default:
		return fmt.Errorf("give -dev or -fake")
	}
	res, err := probe.Run(context.Background(), d, probe.Options{})
	if err != nil {
		return err
	}
	fmt.Printf("claimed %d usable %d fake %v fault %q cache %d flush %d written %d read %d write_mbps %.1f read_mbps %.1f rounds %d seconds %.2f\n",
		res.Claimed, res.Usable, res.Fake, res.Fault.String(), res.Cache, res.Flush, res.Written, res.Read,
		res.WriteBps/1e6, res.ReadBps/1e6, res.Rounds, res.Duration.Seconds())
	return nil
}

// fakeStick returns an in-process stick of the kind named.
func fakeStick(kind string, claimed, real, cache int64, wbps, rbps float64) (*blockdev.Device, error) {
	past := map[string]fakedev.Past{"wrap": fakedev.Wrap, "zeros": fakedev.Zeros, "ones": fakedev.Ones, "stale": fakedev.Stale}
	cfg := fakedev.Config{Claimed: claimed, Cache: cache &^ 4095,
		Slow: []fakedev.Slow{{Region: fakedev.Region{End: claimed}, WriteBps: wbps, ReadBps: rbps, CacheBps: 10 * wbps}}}
	if kind != "genuine" {
		p, ok := past[kind]
		if !ok {
			return nil, fmt.Errorf("unknown fake %q: genuine, wrap, zeros, ones or stale", kind)
		}
		cfg.Real, cfg.Past = real, p
	}
	return fakedev.New(cfg).Device("fake-" + kind), nil
}
