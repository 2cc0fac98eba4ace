package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/status"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	r.Host = "127.0.0.1:7070" // the dashboard as the operator opens it
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			r.Host = header[i+1]
			continue
		}
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRoutesWithoutToken(t *testing.T) {
	b := status.NewBoard()
	m := NewMetrics(b)
	b.Update(status.Row{ID: 2, Port: "1-1.2", Serial: "S2", State: status.StateRunning})
	b.Update(status.Row{ID: 1, Port: "1-1.1", Serial: "S1", State: status.StateVerified})
	h := NewServer(b, Options{
		Profiles: func() any { return []string{"kiosk"} },
		Devices:  func() any { return map[string]string{"sdb": "1-1.1"} },
		Metrics:  m,
		Ports:    func() []string { return []string{"1-1.1", "1-1.2"} },
	})
	for _, tc := range []struct {
		path, ctype, body string
	}{
		{"/", "text/html; charset=utf-8", `<section class="tiles" id="tiles"`},
		{"/static/app.js", "text/javascript; charset=utf-8", `new EventSource("events" + query)`},
		{"/static/style.css", "text/css; charset=utf-8", `.state-verified`},
		{"/api/profiles", "application/json", `["kiosk"]`},
		{"/api/devices", "application/json", `{"sdb":"1-1.1"}`},
		{"/api/ports", "application/json", `["1-1.1","1-1.2"]`},
		{"/metrics", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", `flashpipe_sticks_total{profile="",result="done"} 1`},
		{"/healthz", "text/plain; charset=utf-8", "ok"},
	} {
		w := get(t, h, tc.path)
		if w.Code != 200 {
			t.Errorf("GET %s: status = %d, want 200 (%s)", tc.path, w.Code, w.Body)
			continue
		}
		if got := w.Header().Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type = %q, want %q", tc.path, got, tc.ctype)
		}
		if !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("GET %s: body lacks %q:\n%s", tc.path, tc.body, w.Body)
		}
	}
	w := get(t, h, "/api/jobs")
	var jobs []status.Row
	if err := json.Unmarshal(w.Body.Bytes(), &jobs); err != nil {
		t.Fatalf("GET /api/jobs: %v in %s", err, w.Body)
	}
	var serials []string
	for _, j := range jobs {
		serials = append(serials, j.Serial)
	}
	if diff := cmp.Diff([]string{"S1", "S2"}, serials); diff != "" {
		t.Errorf("GET /api/jobs serials (-want +got):\n%s", diff)
	}
	if w := get(t, h, "/nope"); w.Code != 404 {
		t.Errorf("GET /nope: status = %d, want 404", w.Code)
	}
}

func TestUnconfiguredRoutesAnswer404(t *testing.T) {
	h := NewServer(status.NewBoard(), Options{})
	for _, p := range []string{"/api/profiles", "/api/devices", "/metrics"} {
		if w := get(t, h, p); w.Code != 404 {
			t.Errorf("GET %s without its option: status = %d, want 404", p, w.Code)
		}
	}
	if w := get(t, h, "/api/ports"); w.Code != 200 || strings.TrimSpace(w.Body.String()) != "[]" {
		t.Errorf("GET /api/ports without Ports = %d %q, want 200 []", w.Code, w.Body)
	}
}

func TestTokenRules(t *testing.T) {
	h := NewServer(status.NewBoard(), Options{Token: "s3cret", Metrics: NewMetrics(nil)})
	bearer := []string{"Authorization", "Bearer s3cret"}
	wrong := []string{"Authorization", "Bearer nope"}
	for _, tc := range []struct {
		path   string
		header []string
		want   int
	}{
		{"/", nil, 401},
		{"/", bearer, 200},
		{"/", wrong, 401},
		{"/?token=s3cret", nil, 200},
		{"/?token=nope", nil, 401},
		{"/?token=", nil, 401},
		{"/api/jobs", nil, 401},
		{"/api/jobs", bearer, 200},
		{"/api/jobs?token=s3cret", nil, 401}, // query tokens only for the page and its event stream
		{"/metrics", nil, 401},
		{"/metrics", bearer, 200},
		{"/metrics", []string{"Authorization", "s3cret"}, 401},
		{"/api/ports", nil, 401},
		{"/static/app.js", nil, 200},
		{"/healthz", nil, 200},
	} {
		w := get(t, h, tc.path, tc.header...)
		if w.Code != tc.want {
			t.Errorf("GET %s %v: status = %d, want %d", tc.path, tc.header, w.Code, tc.want)
		}
		if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s %v: 401 without WWW-Authenticate", tc.path, tc.header)
		}
	}
}

func TestEventsTokenInQuery(t *testing.T) {
	b := status.NewBoard()
	srv := httptest.NewServer(NewServer(b, Options{Token: "s3cret"}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("GET /events without token: status = %d, want 401", resp.StatusCode)
	}
	ev := openEvents(t, srv.URL+"/events?token=s3cret")
	defer ev.close()
	if name, _ := ev.next(t); name != "snapshot" {
		t.Errorf("first event with ?token = %q, want snapshot", name)
	}
}

type eventStream struct {
	resp   *http.Response
	sc     *bufio.Scanner
	cancel context.CancelFunc
}

func openEvents(t *testing.T, url string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("GET %s = %d %q, want 200 text/event-stream", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	return &eventStream{resp: resp, sc: sc, cancel: cancel}
}

// next reads one event and returns its name and data.
func (e *eventStream) next(t *testing.T) (name, data string) {
	t.Helper()
	for e.sc.Scan() {
		line := e.sc.Text()
		switch {
		case line == "":
			if name != "" || data != "" {
				return name, data
			}
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data += line[len("data: "):]
		}
	}
	t.Fatalf("event stream ended: %v", e.sc.Err())
	return "", ""
}

func (e *eventStream) close() {
	e.cancel()
	e.resp.Body.Close()
}

func TestEventsSnapshotThenUpdates(t *testing.T) {
	b := status.NewBoard()
	b.Update(status.Row{ID: 1, Port: "1-1.1", State: status.StateRunning})
	srv := httptest.NewServer(NewServer(b, Options{}))
	defer srv.Close()
	ev := openEvents(t, srv.URL+"/events")
	defer ev.close()

	name, data := ev.next(t)
	var snap []status.Row
	if err := json.Unmarshal([]byte(data), &snap); name != "snapshot" || err != nil || len(snap) != 1 || snap[0].ID != 1 {
		t.Fatalf("first event = %q %s (%v), want snapshot with job 1", name, data, err)
	}
	if name, data := ev.next(t); name != "alerts" || data != "[]" {
		t.Fatalf("second event = %q %s, want alerts []", name, data)
	}
	b.Update(status.Row{ID: 1, Port: "1-1.1", State: status.StateVerified, BytesWritten: 42})
	b.Remove(1)
	var got []string
	for len(got) < 2 {
		name, data := ev.next(t)
		var j status.Row
		if err := json.Unmarshal([]byte(data), &j); err != nil {
			t.Fatalf("event %q data %s: %v", name, data, err)
		}
		got = append(got, name+":"+string(j.State))
	}
	if diff := cmp.Diff([]string{"job:verified", "job:idle"}, got); diff != "" {
		t.Errorf("events after the snapshot (-want +got):\n%s", diff)
	}
	b.SetAlert(status.Alert{Key: status.AlertReceipts, Message: "Receipts cannot be written"})
	var alerts []status.Alert
	if name, data := ev.next(t); name != "alerts" || json.Unmarshal([]byte(data), &alerts) != nil || len(alerts) != 1 || alerts[0].Message != "Receipts cannot be written" {
		t.Errorf("event after SetAlert = %q %s, want alerts with the message", name, data)
	}
	b.ClearAlert(status.AlertReceipts)
	if name, data := ev.next(t); name != "alerts" || data != "[]" {
		t.Errorf("event after ClearAlert = %q %s, want alerts []", name, data)
	}
}

func TestCheckListenAddr(t *testing.T) {
	open := NewServer(status.NewBoard(), Options{})
	locked := NewServer(status.NewBoard(), Options{Token: "t"})
	for _, tc := range []struct {
		addr string
		h    http.Handler
		ok   bool
	}{
		{"127.0.0.1:8080", open, true},
		{"127.1.2.3:8080", open, true},
		{"[::1]:8080", open, true},
		{"localhost:8080", open, true},
		{":8080", open, false},
		{"0.0.0.0:8080", open, false},
		{"192.168.1.10:8080", open, false},
		{"station.lan:8080", open, false},
		{":8080", locked, true},
		{"0.0.0.0:8080", locked, true},
		{":8080", http.NotFoundHandler(), false},
	} {
		err := CheckListenAddr(tc.addr, tc.h)
		if (err == nil) != tc.ok {
			t.Errorf("CheckListenAddr(%q, token set %v) = %v, want ok %v", tc.addr, tc.h == locked, err, tc.ok)
		}
		if err != nil && tc.ok == false && !errors.Is(err, ErrTokenRequired) {
			t.Errorf("CheckListenAddr(%q) = %v, want ErrTokenRequired", tc.addr, err)
		}
	}
	if err := ListenAndServe(context.Background(), ":0", open); !errors.Is(err, ErrTokenRequired) {
		t.Errorf("ListenAndServe(\":0\", no token) = %v, want ErrTokenRequired", err)
	}
}

// Serve must end open event streams when its context ends, and return.
func TestServeShutsDownWithOpenStream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, ln, NewServer(status.NewBoard(), Options{})) }()
	ev := openEvents(t, "http://"+ln.Addr().String()+"/events")
	defer ev.close()
	ev.next(t)
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Serve after cancel = %v, want nil", err)
	}
	// The server ended the stream: reading reaches the end instead of blocking.
	io.Copy(io.Discard, ev.resp.Body)
}

// TestHostCheckWithoutToken: without a token the dashboard answers only
// requests for localhost, a loopback IP or a configured name; a page that
// reaches it through a DNS name pointed at 127.0.0.1 (DNS rebinding) gets
// 421 on every route. With a token, the token is what protects it.
func TestHostCheckWithoutToken(t *testing.T) {
	b := status.NewBoard()
	b.Update(status.Row{ID: 1, Port: "1-1.1", Serial: "SECRET1", State: status.StateRunning})
	opts := Options{Metrics: NewMetrics(b), Devices: func() any { return []string{"sdb"} }, Hosts: []string{"station.lan"}}
	h := NewServer(b, opts)
	routes := []string{"/", "/api/jobs", "/api/devices", "/api/ports", "/metrics", "/events", "/healthz", "/static/app.js"}
	for _, host := range []string{"attacker.example", "attacker.example:7070", "127.0.0.1.attacker.example:7070", "localhost.attacker.example", "10.0.0.5:7070"} {
		for _, path := range routes {
			w := getBounded(t, h, path, host)
			if w.Code != http.StatusMisdirectedRequest || !strings.Contains(w.Body.String(), "has no token") || strings.Contains(w.Body.String(), "SECRET1") {
				t.Errorf("GET %s with Host %q = %d %q, want 421 saying why", path, host, w.Code, w.Body)
			}
		}
	}
	for _, host := range []string{"127.0.0.1:7070", "localhost:7070", "LOCALHOST", "[::1]:7070", "127.0.0.2:80", "station.lan:7070", "Station.LAN", ""} {
		if w := get(t, h, "/api/jobs", "Host", host); w.Code != 200 || !strings.Contains(w.Body.String(), "SECRET1") {
			t.Errorf("GET /api/jobs with Host %q = %d %q, want 200 and the jobs", host, w.Code, w.Body)
		}
	}
	opts.Token = "s3cret"
	h = NewServer(b, opts)
	if w := get(t, h, "/api/jobs", "Host", "station.example:7070", "Authorization", "Bearer s3cret"); w.Code != 200 {
		t.Errorf("GET /api/jobs with a token and Host station.example = %d, want 200: the token protects it", w.Code)
	}
}

// getBounded is get with a Host header and a request that ends after a
// second, so that a stream (/events) answered by mistake cannot hang the
// test.
func getBounded(t *testing.T, h http.Handler, target, host string) *httptest.ResponseRecorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r := httptest.NewRequest("GET", target, nil).WithContext(ctx)
	r.Host = host
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestStaticNoTraversal: /static/ serves the embedded files only; no path
// reaches a file outside them, and every answer carries the page's
// Content-Security-Policy (no inline script, nothing from elsewhere).
func TestStaticNoTraversal(t *testing.T) {
	h := NewServer(status.NewBoard(), Options{})
	for _, path := range []string{"/static/../server.go", "/static/..%2fserver.go", "/static/%2e%2e/%2e%2e/go.mod",
		"/static/../../../../etc/passwd", "/static//etc/passwd", "/..%2f..%2fetc/passwd"} {
		w := get(t, h, path)
		if body := w.Body.String(); w.Code == 200 && !strings.Contains(body, "<!doctype html>") || strings.Contains(body, "package web") || strings.Contains(body, "root:") {
			t.Errorf("GET %s = %d %q, want no file from outside static/", path, w.Code, body[:min(len(body), 80)])
		}
	}
	w := get(t, h, "/")
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("GET / Content-Security-Policy = %q, want default-src 'self' and no unsafe-inline", csp)
	}
}
