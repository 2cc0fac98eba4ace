package main

import (
	"context"
	"io"
	"io/fs"
	"net/http"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/flashpipe/flashpipe/web"
	"github.com/hashicorp/go-hclog"
)

// stationCounts are the counters of a station that /metrics exports beside
// what the board shows; a nil function counts nothing.
type stationCounts struct {
	dropped   func() uint64                          // uevent.Listener.Dropped
	overflows func() uint64                          // uevent.Listener.Overflows
	refusals  func() map[matchers.RefusalKind]uint64 // station.Station.GuardRefusals
	poolRows  func() map[string]int                  // station.Station.PoolRows
}

// startViews starts what the operator looks at: the live table when table
// is set (plain log lines otherwise) and, when st.Listen is set, the
// dashboard. current returns the station's config as last reloaded: the
// dashboard's profiles and ports follow it; its address and token are
// st's, at start.
func startViews(ctx context.Context, out io.Writer, table bool, board *status.Board, st *pipeline.StationBlock, current func() *pipeline.Config, counts stationCounts, log hclog.Logger) error {
	go status.RunTerminal(ctx, board, out, table)
	addr, token := st.Listen, st.Token
	if addr == "" {
		return nil
	}
	sysfs, _ := matchers.OSRoots()
	h := dashboard(board, current, counts, sysfs, token, st.AllowedHosts)
	if err := web.CheckListenAddr(addr, h); err != nil {
		return err
	}
	go func() {
		if err := web.ListenAndServe(ctx, addr, h); err != nil {
			log.Error("dashboard stopped", "error", err)
		}
	}()
	log.Info("dashboard", "url", "http://"+addr+"/")
	return nil
}

// dashboard returns the web handler of a station: its jobs, profiles and
// devices, and a tile for each hub port in sysfs that station.ports selects.
func dashboard(board *status.Board, current func() *pipeline.Config, counts stationCounts, sysfs fs.FS, token string, hosts []string) http.Handler {
	metrics := web.NewMetrics(board)
	metrics.UeventsDropped, metrics.UeventOverflows, metrics.GuardRefusals, metrics.PoolRows = counts.dropped, counts.overflows, counts.refusals, counts.poolRows
	metrics.Findings = steps.Builtin().Findings() // their series start at zero with a profile's first job
	return web.NewServer(board, web.Options{
		Token:    token,
		Hosts:    hosts,
		Metrics:  metrics,
		Profiles: func() any { return profilesJSON(current()) },
		Devices:  func() any { return devicesJSON() },
		Ports:    func() []string { return stationPorts(sysfs, current().Station.Ports) },
	})
}

type profileJSON struct {
	Name     string   `json:"name"`
	Priority int      `json:"priority"`
	Match    any      `json:"match"`
	Stages   []string `json:"stages"`
}

func profilesJSON(cfg *pipeline.Config) []profileJSON {
	var out []profileJSON
	for _, p := range cfg.Profiles {
		pj := profileJSON{Name: p.Name, Priority: p.Priority, Match: p.Match}
		for _, s := range p.Stages {
			pj.Stages = append(pj.Stages, s.Name)
		}
		out = append(out, pj)
	}
	return out
}

func devicesJSON() any {
	sysfs, procfs := matchers.OSRoots()
	names, err := matchers.List(sysfs)
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	var devs []*matchers.Device
	for _, n := range names {
		if d, err := matchers.ReadFrom(sysfs, procfs, n); err == nil {
			devs = append(devs, d)
		}
	}
	return devs
}

// stationPorts returns the paths of the hub ports that match the station's
// ports globs, read from sysfs now (a hub plugged in later shows up on the
// next page load).
func stationPorts(sysfs fs.FS, patterns []string) []string {
	paths := []string{}
	if len(patterns) == 0 {
		return paths
	}
	ports, err := matchers.HubPorts(sysfs)
	if err != nil {
		return paths
	}
	for _, p := range matchers.MatchPorts(ports, patterns) {
		paths = append(paths, p.Path)
	}
	return paths
}
