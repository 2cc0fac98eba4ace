package steps

import "github.com/flashpipe/flashpipe/probe"

// SetProbeOptions sets the options a probe step passes to probe.Run, so
// that tests can probe a small stick with a small flush.
func SetProbeOptions(s *Probe, o probe.Options) { s.opts = o }
