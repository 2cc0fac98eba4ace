package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// cdp is a minimal Chrome DevTools Protocol client over
// --remote-debugging-pipe: Chromium reads NUL-terminated JSON commands from
// fd 3 and writes NUL-terminated replies and events to fd 4.
type cdp struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpReply
	done    chan struct{}
	session string
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func startCDP(t *testing.T, bin string) *cdp {
	t.Helper()
	cmdR, cmdW, err := os.Pipe() // we write commands, Chromium reads fd 3
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe() // Chromium writes fd 4, we read
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--force-color-profile=srgb",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, outW}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	cmdR.Close()
	outW.Close()
	c := &cdp{cmd: cmd, in: cmdW, waiting: map[int]chan cdpReply{}, done: make(chan struct{})}
	go c.readLoop(outR)
	t.Cleanup(c.close)
	return c
}

func (c *cdp) readLoop(r io.Reader) {
	defer close(c.done)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m struct {
			ID int `json:"id"`
			cdpReply
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
			continue // an event; this client does not use them
		}
		c.mu.Lock()
		ch := c.waiting[m.ID]
		delete(c.waiting, m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m.cdpReply
		}
	}
}

// call sends method with params (on the attached page's session, if any)
// and decodes the result into out.
func (c *cdp) call(t *testing.T, method string, params any, out any) {
	t.Helper()
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan cdpReply, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if c.session != "" {
		msg["sessionId"] = c.session
	}
	b, _ := json.Marshal(msg)
	if _, err := c.in.Write(append(b, 0)); err != nil {
		t.Fatalf("cdp %s: %v", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			t.Fatalf("cdp %s: %s", method, r.Error.Message)
		}
		if out != nil {
			if err := json.Unmarshal(r.Result, out); err != nil {
				t.Fatalf("cdp %s result: %v", method, err)
			}
		}
	case <-c.done:
		t.Fatalf("cdp %s: chromium exited", method)
	case <-time.After(time.Minute):
		t.Fatalf("cdp %s: no reply in a minute", method)
	}
}

// open creates a page of the given size at url and attaches to it.
func (c *cdp) open(t *testing.T, url string, width, height int) {
	t.Helper()
	var target struct {
		TargetID string `json:"targetId"`
	}
	c.call(t, "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	c.call(t, "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	c.session = att.SessionID
	c.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}, nil)
	c.call(t, "Page.navigate", map[string]any{"url": url}, nil)
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func (c *cdp) eval(t *testing.T, expr string, out any) {
	t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	c.call(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		t.Fatalf("eval %q: %s", expr, r.ExceptionDetails.Text)
	}
	if err := json.Unmarshal(r.Result.Value, out); err != nil {
		t.Fatalf("eval %q = %s: %v", expr, r.Result.Value, err)
	}
}

// waitUntil evaluates expr until it is true; only a hang reaches the
// one-minute limit.
func (c *cdp) waitUntil(t *testing.T, expr string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var ok bool
		c.eval(t, "!!("+expr+")", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var dom string
			c.eval(t, "document.body.outerHTML", &dom)
			t.Fatalf("page never satisfied %s; DOM:\n%s", expr, dom)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cdp) close() {
	c.session = ""
	if b, err := json.Marshal(map[string]any{"id": 1 << 30, "method": "Browser.close"}); err == nil {
		c.in.Write(append(b, 0))
	}
	c.in.Close()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { <-ctx.Done(); c.cmd.Process.Kill() }()
	c.cmd.Wait()
}

// tileClasses returns the JavaScript that maps each tile's key to its class.
const tileClasses = `Object.fromEntries([...document.querySelectorAll("article.tile")].map(e => [e.dataset.key, e.className]))`

func fmtStates(m map[string]string) string {
	var sb strings.Builder
	for k, v := range m {
		fmt.Fprintf(&sb, "%s=%s ", k, v)
	}
	return sb.String()
}
