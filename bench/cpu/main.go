// Command cpu is bench/cpu.sh's helper: it watches a station's dashboard
// while the station writes many sticks and reports how late the board is.
//
//	cpu sse -url http://127.0.0.1:PORT -jobs N [-timeout 10m]
//
// It reads the event stream (/events) and, for every job update, takes the
// time from the update (the row's "updated") to its arrival; at the same
// time it asks /api/jobs for the board every 250 ms and takes each answer's
// round trip. It ends when N jobs have reached a final state, and prints
// the median, 99th percentile and largest of both, and the longest silence
// of the stream while a job ran.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "sse" {
		fmt.Fprintln(os.Stderr, "usage: cpu sse -url URL -jobs N [-timeout D]")
		os.Exit(2)
	}
	if err := sse(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "cpu sse:", err)
		os.Exit(1)
	}
}

// row is the part of a board row (status.Row) this helper reads.
type row struct {
	ID      int       `json:"id"`
	State   string    `json:"state"`
	Updated time.Time `json:"updated"`
}

func terminal(s string) bool {
	switch s {
	case "verified", "unverified", "failed", "removed", "interrupted":
		return true
	}
	return false
}

func sse(args []string) error {
	fl := flag.NewFlagSet("sse", flag.ExitOnError)
	url := fl.String("url", "", "the station's dashboard, e.g. http://127.0.0.1:8080")
	jobs := fl.Int("jobs", 1, "jobs to wait for")
	timeout := fl.Duration("timeout", 10*time.Minute, "give up after this long")
	fl.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var wg sync.WaitGroup
	var polls []time.Duration
	pollCtx, stopPolls := context.WithCancel(ctx)
	wg.Go(func() { polls = poll(pollCtx, *url+"/api/jobs") })
	lat, gap, err := watch(ctx, *url+"/events", *jobs)
	stopPolls()
	wg.Wait()
	if err != nil {
		return err
	}
	fmt.Printf("SSE job updates: %d, latency (update to arrival) %s; longest silence while a job ran %.2f s\n",
		len(lat), stats(lat), gap.Seconds())
	fmt.Printf("GET /api/jobs every 250 ms: %d answers, round trip %s\n", len(polls), stats(polls))
	return nil
}

// stats formats the median, 99th percentile and maximum of ds.
func stats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return fmt.Sprintf("median %.1f ms, p99 %.1f ms, max %.1f ms",
		ms(ds[len(ds)/2]), ms(ds[len(ds)*99/100]), ms(ds[len(ds)-1]))
}

// watch reads the event stream until jobs jobs ended; it returns the
// latency of every job update and the longest time without an event while
// some job was running.
func watch(ctx context.Context, url string, jobs int) ([]time.Duration, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var lat []time.Duration
	var gap time.Duration
	ended, running := map[int]bool{}, map[int]bool{}
	last := time.Now()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "job":
			now := time.Now()
			var r row
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &r); err != nil {
				return nil, 0, err
			}
			lat = append(lat, now.Sub(r.Updated))
			if len(running) > 0 {
				gap = max(gap, now.Sub(last))
			}
			last = now
			running[r.ID] = r.State == "running"
			if !running[r.ID] {
				delete(running, r.ID)
			}
			if terminal(r.State) {
				ended[r.ID] = true
				if len(ended) >= jobs {
					return lat, gap, nil
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return lat, gap, fmt.Errorf("%d of %d jobs ended: %w", len(ended), jobs, err)
	}
	return lat, gap, fmt.Errorf("the event stream ended after %d of %d jobs", len(ended), jobs)
}

// poll asks url every 250 ms until ctx ends and returns each round trip.
func poll(ctx context.Context, url string) []time.Duration {
	var out []time.Duration
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out = append(out, time.Since(start))
	}
}
