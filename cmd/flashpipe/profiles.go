package main

import (
	"fmt"

	"github.com/flashpipe/flashpipe/pipeline"
)

// pickProfile finds a profile by name, or the only one: for the commands
// that write one profile (build, flash, demo).
func pickProfile(cfg *pipeline.Config, name string) (*pipeline.Profile, error) {
	if name == "" {
		if len(cfg.Profiles) == 1 {
			return cfg.Profiles[0], nil
		}
		return nil, fmt.Errorf("the files hold %d profiles: choose one with --profile %s", len(cfg.Profiles), profileNames(cfg))
	}
	for _, p := range cfg.Profiles {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no profile %q; profiles: %s", name, profileNames(cfg))
}

func profileNames(cfg *pipeline.Config) string {
	var s string
	for i, p := range cfg.Profiles {
		if i > 0 {
			s += ", "
		}
		s += p.Name
	}
	return s
}
