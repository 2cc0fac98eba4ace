package web

import (
	"bytes"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/status"
	"github.com/google/go-cmp/cmp"
)

// chromium returns the path of a Chromium binary, or stops the test (see
// testreq.Tool): it is the real browser for the dashboard test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return testreq.Tool(t, "chromium") // none found: skips, or fails under CI
}

// TestDashboardInBrowser opens the dashboard in headless Chromium against a
// real server with a token, moves jobs through states on the board, and
// checks that the page's tiles follow.
func TestDashboardInBrowser(t *testing.T) {
	bin := chromium(t)
	b := status.NewBoard()
	demoJobs(b)
	srv := httptest.NewServer(NewServer(b, Options{Token: "s3cret"}))
	t.Cleanup(srv.Close) // after Chromium closes (cleanups run last-in first-out)
	c := startCDP(t, bin)
	c.open(t, srv.URL+"/?token=s3cret", 1200, 800)
	c.waitUntil(t, `document.querySelectorAll("article.tile").length == 4`)
	var first map[string]string
	c.eval(t, tileClasses, &first)
	want := map[string]string{
		"port:1-1.1": "tile state-running", "port:1-1.2": "tile state-verified",
		"port:1-1.3": "tile state-failed", "port:1-1.4": "tile state-queued",
	}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Fatalf("tile classes after load (-want +got):\n%s", diff)
	}

	moved := make(chan struct{})
	go func() { // the engine's part: move every job along
		defer close(moved)
		j := b.Snapshot()
		for _, x := range j {
			switch x.Port {
			case "1-1.1": // running → verified
				for d := x.Done; d <= x.Total; d += x.Total / 8 {
					x.Done = d
					b.Update(x)
				}
				x.State, x.Done = status.StateVerified, x.Total
				b.Update(x)
			case "1-1.2": // done stick pulled → idle port
				b.Remove(x.ID)
			case "1-1.4": // queued → running → failed
				x.State, x.Step, x.StepIndex = status.StateRunning, "write", 1
				b.Update(x)
				x.State, x.Error = status.StateFailed, "removed during write"
				b.Update(x)
			}
		}
		b.Update(status.Row{ID: 20, Port: "1-1.5", Device: "sdf", State: status.StateDetected})
		// A profile without a verify step: written, never shown as done.
		b.Update(status.Row{ID: 21, Port: "1-1.6", Device: "sdg", Profile: "no-verify", State: status.StateUnverified,
			Step: "write", StepIndex: 2, StepCount: 2, BytesWritten: 1e9})
	}()
	<-moved
	c.waitUntil(t, `document.querySelector('[data-key="port:1-1.5"]')`)
	c.waitUntil(t, `document.querySelector('[data-key="port:1-1.4"]').classList.contains("state-failed")`)
	var second map[string]string
	c.eval(t, tileClasses, &second)
	want = map[string]string{
		"port:1-1.1": "tile state-verified", "port:1-1.2": "tile state-idle",
		"port:1-1.3": "tile state-failed", "port:1-1.4": "tile state-failed",
		"port:1-1.5": "tile state-detected", "port:1-1.6": "tile state-unverified",
	}
	if diff := cmp.Diff(want, second); diff != "" {
		t.Errorf("tile classes after the jobs moved (-want +got):\n%s", diff)
	}
	var texts map[string]string
	c.eval(t, `Object.fromEntries([...document.querySelectorAll("article.tile")].map(e => [e.dataset.key, e.innerText.replace(/\s+/g, " ")]))`, &texts)
	for key, sub := range map[string]string{
		"port:1-1.1": "100%", "port:1-1.4": "removed during write", "port:1-1.2": "ready for a stick",
		"port:1-1.3": "verification failed on /dev/sdd", "port:1-1.6": "WRITTEN, NOT VERIFIED",
	} {
		if !strings.Contains(texts[key], sub) {
			t.Errorf("tile %s text = %q, want it to contain %q", key, texts[key], sub)
		}
	}
	if strings.Contains(strings.ToLower(texts["port:1-1.6"]), "done") {
		t.Errorf("tile of an unverified stick = %q, must not say done", texts["port:1-1.6"])
	}
	var counts string
	c.eval(t, `document.getElementById("counts").innerText.replace(/\s+/g, " ")`, &counts)
	if want := "0 running 1 done 1 not verified 2 failed"; counts != want {
		t.Errorf("header counts = %q, want %q", counts, want)
	}

	// Text from a stick or a content file is shown as text: markup in a
	// serial, an error or an alert never becomes an element.
	const evil = `<img src=x onerror="document.title='PWNED'">`
	b.Update(status.Row{ID: 30, Port: "1-1.7", Device: "sdh", Serial: evil, Profile: evil, State: status.StateFailed, Error: "source file /" + evil})
	c.waitUntil(t, `document.querySelector('[data-key="port:1-1.7"]')`)
	var injected struct {
		Imgs  int
		Title string
		Text  string
	}
	c.eval(t, `({Imgs: document.querySelectorAll("img").length, Title: document.title,
		Text: document.querySelector('[data-key="port:1-1.7"]').innerText})`, &injected)
	if injected.Imgs != 0 || injected.Title == "PWNED" || !strings.Contains(injected.Text, "<img src=x") {
		t.Errorf("a serial holding markup: %d img elements, title %q, tile text %q; want it shown as text", injected.Imgs, injected.Title, injected.Text)
	}

	// A station-wide alert shows above the tiles, and goes when cleared.
	b.SetAlert(status.Alert{Key: status.AlertReceipts, Message: "Receipts cannot be written to /r.jsonl: no space left on device. " + evil})
	c.waitUntil(t, `document.getElementById("alerts").innerText.includes("no space left on device")`)
	c.eval(t, `({Imgs: document.querySelectorAll("img").length, Title: document.title})`, &injected)
	if injected.Imgs != 0 || injected.Title == "PWNED" {
		t.Errorf("an alert holding markup: %d img elements, title %q; want it shown as text", injected.Imgs, injected.Title)
	}
	var above bool
	c.eval(t, `document.getElementById("alerts").getBoundingClientRect().bottom <= document.getElementById("tiles").getBoundingClientRect().top`, &above)
	if !above {
		t.Errorf("the alert is not above the tiles")
	}
	b.ClearAlert(status.AlertReceipts)
	c.waitUntil(t, `document.getElementById("alerts").children.length == 0`)
}

// TestDashboardOnPhone checks that a phone-sized viewport gets one column of
// tiles and no sideways scrolling.
func TestDashboardOnPhone(t *testing.T) {
	bin := chromium(t)
	b := status.NewBoard()
	demoJobs(b)
	srv := httptest.NewServer(NewServer(b, Options{}))
	t.Cleanup(srv.Close)
	c := startCDP(t, bin)
	c.open(t, srv.URL+"/", 390, 844)
	c.waitUntil(t, `document.querySelectorAll("article.tile").length == 4`)
	var geo struct{ ScrollWidth, InnerWidth, Lefts int }
	c.eval(t, `({ScrollWidth: document.documentElement.scrollWidth, InnerWidth: innerWidth,
		Lefts: new Set([...document.querySelectorAll("article.tile")].map(e => e.getBoundingClientRect().left)).size})`, &geo)
	if geo.ScrollWidth > geo.InnerWidth {
		t.Errorf("page scrollWidth = %d at a %d px wide viewport, want no horizontal overflow", geo.ScrollWidth, geo.InnerWidth)
	}
	if geo.Lefts != 1 {
		t.Errorf("tiles on a phone sit in %d columns, want 1", geo.Lefts)
	}
	if out := os.Getenv("FLASHPIPE_SCREENSHOT_PHONE"); out != "" {
		var shot struct {
			Data []byte `json:"data"`
		}
		c.call(t, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
		if err := os.WriteFile(out, shot.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDashboardScreenshot renders the dashboard with jobs in several states.
// Set FLASHPIPE_SCREENSHOT=docs/dashboard.png (relative to the module root) to
// keep the picture:
//
//	FLASHPIPE_SCREENSHOT=$PWD/docs/dashboard.png go test ./web -run Screenshot
func TestDashboardScreenshot(t *testing.T) {
	bin := chromium(t)
	b := status.NewBoard()
	demoJobs(b)
	b.Update(status.Row{ID: 13, Port: "1-1.5", Device: "sdf", Serial: "1A2B3C4D5E6F", VendorID: "0781", ProductID: "5591",
		Profile: "kiosk-2025", Size: 64e9, State: status.StateRunning, Step: "verify", StepIndex: 3, StepCount: 4,
		Done: 2.1e9, Total: 2.9e9, Rate: 38.2e6, ETA: 21 * time.Second, BytesWritten: 2.9e9, BytesVerified: 2.1e9})
	b.Update(status.Row{ID: 8, Port: "1-1.6", Device: "sdg", Serial: "0000000000001", Profile: "kiosk-2025", Size: 4e9,
		State: status.StateRemoved, Step: "write", StepIndex: 2, StepCount: 4, Done: 0.4e9, Total: 2.9e9,
		Error: "removed during write (write /dev/sdg: no such device)"})
	ports := func() []string {
		return []string{"1-1.1", "1-1.2", "1-1.3", "1-1.4", "1-1.5", "1-1.6", "1-1.7", "1-1.8"}
	}
	srv := httptest.NewServer(NewServer(b, Options{Ports: ports}))
	t.Cleanup(srv.Close)
	c := startCDP(t, bin)
	c.open(t, srv.URL+"/", 1180, 580)
	c.waitUntil(t, `document.querySelectorAll("article.tile").length == 8`)
	c.waitUntil(t, `document.querySelector('[data-key="port:1-1.8"]').classList.contains("state-idle")`)
	c.eval(t, `document.body.classList.add("no-anim"), true`, new(bool))
	var shot struct {
		Data []byte `json:"data"` // base64 in JSON, decoded by encoding/json
	}
	c.call(t, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	if !bytes.HasPrefix(shot.Data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("Page.captureScreenshot returned %d bytes without the PNG signature", len(shot.Data))
	}
	if out := os.Getenv("FLASHPIPE_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, shot.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", out, len(shot.Data))
	}
}

// demoJobs puts a few jobs in different states on b.
func demoJobs(b *status.Board) {
	now := time.Now()
	b.Update(status.Row{ID: 11, Port: "1-1.1", Device: "sdb", Serial: "4C530001230815108352", VendorID: "0781", ProductID: "5567",
		Profile: "kiosk-2025", Size: 16e9, State: status.StateRunning, Step: "write", StepIndex: 2, StepCount: 4,
		Done: 1.24e9, Total: 2.9e9, Rate: 23.4e6, ETA: 71 * time.Second, Started: now.Add(-90 * time.Second), BytesWritten: 1.24e9})
	b.Update(status.Row{ID: 9, Port: "1-1.2", Device: "sdc", Serial: "AA00000000012345", VendorID: "090c", ProductID: "1000",
		Profile: "kiosk-2025", Size: 32e9, State: status.StateVerified, Step: "eject", StepIndex: 4, StepCount: 4,
		Done: 2.9e9, Total: 2.9e9, Started: now.Add(-4 * time.Minute), Updated: now.Add(-30 * time.Second), BytesWritten: 2.9e9, BytesVerified: 2.9e9})
	b.Update(status.Row{ID: 10, Port: "1-1.3", Device: "sdd", Serial: "07012A3B4C5D", VendorID: "13fe", ProductID: "4200",
		Profile: "kiosk-2025", Size: 8e9, State: status.StateFailed, Step: "verify", StepIndex: 3, StepCount: 4,
		Done: 0.8e9, Total: 2.9e9, Error: "verification failed on /dev/sdd: /media/intro.mp4; /docs/guide.pdf; metadata: fat #1"})
	b.Update(status.Row{ID: 12, Port: "1-1.4", Device: "sde", Serial: "C03FD5F7F1A2", VendorID: "0951", ProductID: "1666",
		Profile: "manuals-de", Size: 16e9, State: status.StateQueued, Step: "", StepIndex: 0, StepCount: 3})
}
