// Package web serves the station's dashboard and its machine interfaces over
// HTTP: a live page for phones and desktops (one tile per USB port), a stream
// of job updates as server-sent events, JSON endpoints and Prometheus
// metrics. It reads a status.Board and never changes it.
//
// Routes:
//
//	GET /              the dashboard (static HTML, CSS and JS embedded in the binary)
//	GET /static/...    the dashboard's CSS and JS (no token needed: they hold no data)
//	GET /events        server-sent events: "snapshot" (all jobs) and "alerts", then "job" per update and "alerts" per change
//	GET /api/jobs      JSON array of status.Row, sorted by port then ID
//	GET /api/devices   JSON from Options.Devices (404 when not set)
//	GET /api/profiles  JSON from Options.Profiles (404 when not set)
//	GET /api/ports     JSON array of the port paths from Options.Ports ([] when not set)
//	GET /metrics       Prometheus text format (or OpenMetrics) from Options.Metrics (404 when not set)
//	GET /healthz       "ok" (no token needed)
//
// With a token set, every route but /static and /healthz needs
// "Authorization: Bearer <token>"; / and /events also accept "?token=<token>"
// because a browser's EventSource cannot send headers.
//
// Without a token, every route answers only requests whose Host header
// names this machine (localhost, a loopback IP) or one of Options.Hosts;
// any other gets 421 Misdirected Request. A web page the operator opens
// elsewhere could otherwise read the station through a DNS name that its
// owner points at 127.0.0.1 (DNS rebinding).
package web

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/status"
)

//go:embed static
var staticFiles embed.FS

// Options configures a Server.
type Options struct {
	// Token, when not empty, is required of every client. A server that
	// listens on anything but a loopback address must have one.
	Token string
	// Profiles returns the loaded profiles for /api/profiles, as any value
	// encoding/json can marshal. Nil leaves the route answering 404.
	Profiles func() any
	// Devices returns the devices the station sees for /api/devices. Nil
	// leaves the route answering 404.
	Devices func() any
	// Metrics backs /metrics. Nil leaves the route answering 404.
	Metrics *Metrics
	// Ports returns the USB port paths the station serves ("1-1.1", ...),
	// for /api/ports; the dashboard shows an idle tile for each before any
	// stick arrives. Nil answers an empty list.
	Ports func() []string
	// Hosts are the host names, without a port, that a server without a
	// token answers to besides localhost and the loopback IPs (for a
	// reverse proxy that passes its own Host header). A request for any
	// other host gets 421. Ignored when Token is set.
	Hosts []string
}

// Server is the HTTP handler NewServer returns.
type Server struct {
	board *status.Board
	opts  Options
	mux   *http.ServeMux
}

// HeartbeatInterval is how often /events sends a comment line so that
// proxies and phones keep an idle stream open.
var HeartbeatInterval = 15 * time.Second

// NewServer returns the handler for all routes, reading jobs from b.
func NewServer(b *status.Board, opts Options) http.Handler {
	s := &Server{board: b, opts: opts, mux: http.NewServeMux()}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	s.mux.Handle("GET /{$}", s.auth(true, http.HandlerFunc(s.index)))
	s.mux.Handle("GET /events", s.auth(true, http.HandlerFunc(s.events)))
	s.mux.Handle("GET /api/jobs", s.auth(false, jsonHandler(func() any { return b.Snapshot() })))
	s.mux.Handle("GET /api/devices", s.auth(false, jsonHandler(opts.Devices)))
	s.mux.Handle("GET /api/profiles", s.auth(false, jsonHandler(opts.Profiles)))
	s.mux.Handle("GET /api/ports", s.auth(false, jsonHandler(func() any {
		if opts.Ports == nil {
			return []string{}
		}
		return opts.Ports()
	})))
	s.mux.Handle("GET /metrics", s.auth(false, http.HandlerFunc(s.metrics)))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer") // the page URL may carry the token
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	if s.opts.Token == "" && !s.hostAllowed(r.Host) {
		http.Error(w, fmt.Sprintf("421 misdirected request: this station's dashboard has no token, so it answers only to "+
			"localhost, 127.0.0.1 and [::1]%s, not to Host %q (a page elsewhere may be reading it through a DNS name "+
			"pointed at this machine). Open it as http://localhost:PORT/, or set a token.", s.hostsNote(), r.Host), http.StatusMisdirectedRequest)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// hostAllowed reports whether a tokenless server answers a request for
// hostport (the Host header): localhost, a loopback IP or one of
// Options.Hosts, on any port. An empty Host (HTTP/1.0) comes from no
// browser and is allowed.
func (s *Server) hostAllowed(hostport string) bool {
	if hostport == "" {
		return true
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]") // no port
	}
	if IsLoopback(host) {
		return true
	}
	for _, h := range s.opts.Hosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// hostsNote lists Options.Hosts for the 421 message.
func (s *Server) hostsNote() string {
	if len(s.opts.Hosts) == 0 {
		return ""
	}
	return " and " + strings.Join(s.opts.Hosts, ", ") + " (station.allowed_hosts)"
}

// auth wraps next with the token check. allowQuery accepts ?token= too.
func (s *Server) auth(allowQuery bool, next http.Handler) http.Handler {
	if s.opts.Token == "" {
		return next
	}
	want := []byte(s.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok && allowQuery {
			got, ok = r.URL.Query().Get("token"), r.URL.Query().Has("token")
		}
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="flashpipe"`)
			http.Error(w, "401 unauthorized: this station needs its token (Authorization: Bearer <token>, or ?token=<token> in the page URL)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	page, err := staticFiles.ReadFile("static/index.html")
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(page)
}

func jsonHandler(fn func() any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fn == nil {
			http.Error(w, "404 not configured on this station", http.StatusNotFound)
			return
		}
		body, err := json.Marshal(fn())
		if err != nil {
			http.Error(w, "500 "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(append(body, '\n'))
	})
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.opts.Metrics == nil {
		http.Error(w, "404 metrics not configured on this station", http.StatusNotFound)
		return
	}
	s.opts.Metrics.Handler().ServeHTTP(w, r)
}

// events streams job updates: first an event "snapshot" whose data is the
// JSON array of all jobs and an event "alerts" whose data is the JSON array
// of the station's alerts (status.Alert), then one event "job" per update
// and one "alerts" whenever the alerts change. A job whose stick was
// pulled arrives once more with state "idle".
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ch, cancel := s.board.Subscribe() // before the snapshot, so nothing falls between
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	if err := writeEvent(w, "snapshot", s.board.Snapshot()); err != nil {
		return
	}
	alerts, alerted := s.board.Alerts()
	if writeEvent(w, "alerts", alerts) != nil || rc.Flush() != nil {
		return
	}
	beat := time.NewTicker(HeartbeatInterval)
	defer beat.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case j, ok := <-ch:
			if !ok {
				return
			}
			err = writeEvent(w, "job", j)
		case <-alerted:
			alerts, alerted = s.board.Alerts()
			err = writeEvent(w, "alerts", alerts)
		case <-beat.C:
			_, err = fmt.Fprint(w, ": ping\n\n")
		}
		if err != nil || rc.Flush() != nil {
			return
		}
	}
}

func writeEvent(w http.ResponseWriter, name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "retry: 2000\nevent: %s\ndata: %s\n\n", name, data)
	return err
}

// ErrTokenRequired is returned by ListenAndServe for a non-loopback address
// when the handler has no token.
var ErrTokenRequired = errors.New("web: a listen address other than loopback needs a token")

// ListenAndServe serves h on addr until ctx is done, then shuts down
// gracefully and returns nil. An address whose host is not a loopback IP or
// "localhost" (including an empty host, which means every interface) is
// refused with ErrTokenRequired unless h is a Server with a token.
func ListenAndServe(ctx context.Context, addr string, h http.Handler) error {
	if err := CheckListenAddr(addr, h); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return Serve(ctx, ln, h)
}

// CheckListenAddr applies ListenAndServe's token rule to addr and h without
// listening.
func CheckListenAddr(addr string, h http.Handler) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("web: listen address %q: %w", addr, err)
	}
	if IsLoopback(host) {
		return nil
	}
	if s, ok := h.(*Server); ok && s.opts.Token != "" {
		return nil
	}
	return fmt.Errorf("%w: %q listens beyond this machine; set a token or listen on 127.0.0.1", ErrTokenRequired, addr)
}

// IsLoopback reports whether host (from host:port) names only this machine:
// "localhost" or a loopback IP such as 127.0.0.1 or ::1.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve serves h on ln until ctx is done, then shuts down gracefully (open
// event streams are ended) and returns nil.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	cancelBase() // ends /events streams so Shutdown need not wait for them
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	return err
}
