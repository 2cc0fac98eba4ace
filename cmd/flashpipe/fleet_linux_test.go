package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/fakedev"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/station"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/flashpipe/flashpipe/web"
	"github.com/spf13/cobra"
)

// TestFleetRulesUnitTests: contrib/prometheus/rules.yml passes promtool
// check rules, and its unit tests (rules_test.yml: each alert fires on the
// series that should fire it, and only on those) pass.
func TestFleetRulesUnitTests(t *testing.T) {
	promtool := testreq.Tool(t, "promtool")
	dir := filepath.Join("..", "..", "contrib", "prometheus")
	for _, args := range [][]string{{"check", "rules", "rules.yml"}, {"test", "rules", "rules_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestFleetExpressionsHaveData runs the demo's three sticks (two verified,
// one failed), a stick that takes a pool row and a fake stick through a station whose /metrics a real Prometheus on
// loopback scrapes as docs/operator.md says (job "flashpipe", a station
// label), with contrib/prometheus/rules.yml loaded. Every expression of
// the Grafana dashboard, and its station variable, must return data; every
// alert rule must evaluate without error, and each metric it selects must
// return data. A renamed metric or label breaks this test, not a dashboard
// on a Monday morning.
func TestFleetExpressionsHaveData(t *testing.T) {
	testreq.Short(t, "starts Prometheus")
	prom := testreq.Tool(t, "prometheus")
	metricsURL := demoStationMetrics(t)
	api := startPrometheus(t, prom, metricsURL)

	// Rates need two scrapes in their window: wait for three.
	waitFor(t, "three scrapes of the station", func() bool {
		r := promQuery(t, api, `count_over_time(up{job="flashpipe", station="demo"}[1m]) >= 3`)
		return len(r) > 0
	})
	if r := promQuery(t, api, `up{job="flashpipe", station="demo"}`); len(r) != 1 || r[0].Value[1] != "1" {
		t.Fatalf("up = %v, want one series of value 1", r)
	}

	// The pool and fake-stick series carry what the station did, not only
	// zeros that were there from the start.
	for q, want := range map[string]string{
		`flashpipe_pool_rows_free{station="demo", pool="keys"}`:                              "2",
		`flashpipe_stick_findings_total{station="demo", profile="screened", finding="fake"}`: "1",
	} {
		if r := promQuery(t, api, q); len(r) != 1 || r[0].Value[1] != want {
			t.Errorf("%s = %v, want one series of value %s", q, r, want)
		}
	}

	t.Run("dashboard", func(t *testing.T) {
		dash := readDashboard(t)
		if got := dash.stationQuery; got != `label_values(up{job="flashpipe"}, station)` {
			t.Errorf("station variable query = %q, want label_values(up{job=\"flashpipe\"}, station)", got)
		}
		if len(dash.exprs) < 10 {
			t.Fatalf("dashboard has %d expressions, want at least 10", len(dash.exprs))
		}
		vars := strings.NewReplacer("$station", "demo", "$__rate_interval", "1m", "${datasource}", "")
		for _, e := range dash.exprs {
			q := vars.Replace(e)
			if r := promQuery(t, api, q); len(r) == 0 {
				t.Errorf("dashboard expression returns no data: %s", q)
			}
		}
	})

	t.Run("rules", func(t *testing.T) {
		rules := waitRulesEvaluated(t, api)
		if len(rules) != 5 {
			t.Errorf("Prometheus loaded %d rules, want 5: %v", len(rules), rules)
		}
		selector := regexp.MustCompile(`\b(flashpipe_[a-z_]+|up)(\{[^}]*\})?`)
		for _, r := range rules {
			if r.Health != "ok" {
				t.Errorf("rule %s: health %q (%s), want ok", r.Name, r.Health, r.LastError)
			}
			sels := selector.FindAllString(r.Query, -1)
			if len(sels) == 0 {
				t.Errorf("rule %s selects no metric: %s", r.Name, r.Query)
			}
			for _, s := range sels {
				if res := promQuery(t, api, s); len(res) == 0 {
					t.Errorf("rule %s: %s returns no data", r.Name, s)
				}
			}
		}
	})
}

// fleetProfiles are what the fleet test adds to the demo station so that
// the dashboard's pool and fake-stick panels have data: a pool whose rows a
// profile takes, and a profile that probes its sticks.
const fleetProfiles = `
pool "keys" {
  csv    = %q
  record = "value"
}

profile "keyed" {
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "file" {
    path    = "/licence.txt"
    content = "${pool.keys.row.key}\n"
  }
  step "verify" {}
}

profile "screened" {
  step "probe" {}
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.demo] }
  step "verify" {}
}
`

// demoStationMetrics runs the demo's sticks through a station with the
// dashboard's metrics, and serves them on loopback; it returns their URL.
// Beside the demo's three sticks, everything the dashboard shows is real:
// the station opens a three-row pool (Open, as Run does) and a stick of
// profile "keyed" takes a row, so flashpipe_pool_rows_free{pool="keys"} is
// the station's own PoolRows, 2; and a stick of profile "screened" is a
// blockdev/fakedev "64 GB" stick that stores 1 GB, which the station's
// probe step fails as fake, so flashpipe_stick_findings_total counts the
// finding the station put on its board row.
func demoStationMetrics(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var errb bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetErr(&errb)
	cfgPath, _, err := writeDemoStation(cmd, dir)
	if err != nil {
		t.Fatalf("demo station: %v\n%s", err, errb.String())
	}
	keys := filepath.Join(dir, "keys.csv")
	if err := os.WriteFile(keys, []byte("key\nKEY-ONE\nKEY-TWO\nKEY-THREE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, fleetProfiles, keys)
	f.Close()
	l := pipeline.NewLoader(steps.Builtin())
	cfg, diags := l.LoadFiles([]string{cfgPath})
	if diags.HasErrors() {
		t.Fatalf("demo station with the fleet profiles: %s", diags.Error())
	}
	sticks := append(demoSticks(dir), demoStick{file: filepath.Join(dir, "stick4-keyed.img"), port: "demo-4", size: 64 << 20, profile: "keyed"})
	targets, err := demoTargets(cfg, sticks)
	if err != nil {
		t.Fatal(err)
	}
	fake := fakedev.New(fakedev.Config{Claimed: 64 * 1_000_000_000 &^ 4095, Real: 1 << 30, Past: fakedev.Wrap})
	screened, err := pickProfile(cfg, "screened")
	if err != nil {
		t.Fatal(err)
	}
	targets = append(targets, station.Target{Profile: screened, Path: "/dev/fake-demo",
		Device: &matchers.Device{Name: "fake-demo", Bus: "usb", Port: "demo-5", Size: 64 * 1_000_000_000 &^ 4095, WholeDisk: true},
		Dev:    fake.Device("/dev/fake-demo")})

	board := status.NewBoard()
	metrics := web.NewMetrics(board)
	metrics.Findings = steps.Builtin().Findings() // as dashboard (views.go) sets them
	st := station.New(station.Options{Config: cfg, Receipts: filepath.Join(dir, "receipts.jsonl"), Board: board,
		Concurrency: len(targets), Log: newLogger(&bytes.Buffer{}, "info", "text")})
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	metrics.PoolRows = st.PoolRows // as cmd/flashpipe's views wire it
	results := st.Flash(context.Background(), targets)
	var got []string
	for _, r := range results {
		got = append(got, string(r.Result)+" "+r.FailedStep)
	}
	if want := []string{"done ", "done ", "failed write", "done ", "failed probe"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("demo results = %q, want %q", got, want)
	}
	if rows := st.PoolRows(); rows["keys"] != 2 {
		t.Fatalf("pool rows free after the keyed stick = %v, want keys: 2", rows)
	}
	srv := httptest.NewServer(metrics.Handler())
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

// startPrometheus starts Debian's prometheus on loopback, scraping
// metricsURL every second as job "flashpipe" with station="demo", with the
// alert rules of contrib/prometheus loaded; it returns its API's base URL.
func startPrometheus(t *testing.T, prom, metricsURL string) string {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs(filepath.Join("..", "..", "contrib", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: flashpipe
    metrics_path: %s
    static_configs:
      - targets: [%q]
        labels:
          station: demo
`, rules, u.Path, u.Host)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(prom, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	var logb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logb, &logb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logb.String())
		}
	})
	api := "http://" + addr
	waitFor(t, "Prometheus ready", func() bool {
		select {
		case <-exited:
			t.Fatalf("prometheus exited: %s", logb.String())
		default:
		}
		resp, err := http.Get(api + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return api
}

// waitFor polls cond until it holds, and fails the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after a minute", what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// promSample is one series of an instant query's result.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promQuery runs an instant query; a query Prometheus refuses fails the
// test.
func promQuery(t *testing.T, api, q string) []promSample {
	t.Helper()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	promGet(t, api+"/api/v1/query?query="+url.QueryEscape(q), &body)
	if body.Status != "success" {
		t.Fatalf("query %s: %s %s", q, body.Status, body.Error)
	}
	return body.Data.Result
}

func promGet(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// promRule is a rule as /api/v1/rules reports it.
type promRule struct {
	Name           string `json:"name"`
	Query          string `json:"query"`
	Health         string `json:"health"`
	LastError      string `json:"lastError"`
	LastEvaluation string `json:"lastEvaluation"`
}

// waitRulesEvaluated returns the loaded rules once each was evaluated.
func waitRulesEvaluated(t *testing.T, api string) []promRule {
	t.Helper()
	var rules []promRule
	waitFor(t, "evaluation of every rule", func() bool {
		var body struct {
			Data struct {
				Groups []struct {
					Rules []promRule `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		promGet(t, api+"/api/v1/rules", &body)
		rules = nil
		for _, g := range body.Data.Groups {
			rules = append(rules, g.Rules...)
		}
		for _, r := range rules {
			if r.LastEvaluation == "" || strings.HasPrefix(r.LastEvaluation, "0001-") {
				return false
			}
		}
		return len(rules) > 0
	})
	return rules
}

// fleetDashboard is what the test reads of contrib/grafana/flashpipe.json.
type fleetDashboard struct {
	exprs        []string
	stationQuery string
}

func readDashboard(t *testing.T) fleetDashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "contrib", "grafana", "flashpipe.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("flashpipe.json: %v", err)
	}
	var out fleetDashboard
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out.exprs = append(out.exprs, tg.Expr)
		}
	}
	var haveDS bool
	for _, v := range d.Templating.List {
		switch {
		case v.Name == "datasource" && v.Type == "datasource":
			haveDS = true
		case v.Name == "station":
			if q, ok := v.Query.(map[string]any); ok {
				out.stationQuery, _ = q["query"].(string)
			}
		}
	}
	if !haveDS {
		t.Errorf("the dashboard has no datasource variable")
	}
	return out
}
