package main

import (
	"testing"

	"github.com/flashpipe/flashpipe/pipeline"
)

// TestPickProfile: the only profile needs no name; with several, a name
// is required and a wrong one is named with the choices.
func TestPickProfile(t *testing.T) {
	one := &pipeline.Config{Profiles: []*pipeline.Profile{{Name: "a"}}}
	two := &pipeline.Config{Profiles: []*pipeline.Profile{{Name: "a"}, {Name: "b"}}}
	if p, err := pickProfile(one, ""); err != nil || p.Name != "a" {
		t.Errorf("pickProfile(one, \"\") = %v, %v; want a", p, err)
	}
	if p, err := pickProfile(two, "b"); err != nil || p.Name != "b" {
		t.Errorf("pickProfile(two, b) = %v, %v; want b", p, err)
	}
	if _, err := pickProfile(two, ""); err == nil || err.Error() != "the files hold 2 profiles: choose one with --profile a, b" {
		t.Errorf("pickProfile(two, \"\") = %v, want the choices", err)
	}
	if _, err := pickProfile(two, "c"); err == nil || err.Error() != `no profile "c"; profiles: a, b` {
		t.Errorf("pickProfile(two, c) = %v, want the choices", err)
	}
}
