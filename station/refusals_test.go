package station

import (
	"context"
	"maps"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/status"
)

// TestGuardRefusalsCounted: a stick the guard refuses when it is plugged
// in is counted under its kind, and nothing else is.
func TestGuardRefusalsCounted(t *testing.T) {
	h := newFakeHost(t)
	ro := maps.Clone(h.with)
	for name := range ro {
		if strings.HasSuffix(name, "/block/sdb/ro") {
			ro[name] = &fstest.MapFile{Data: []byte("1\n")}
		}
	}
	h.with = ro
	r := h.run(t, nil, 10*time.Millisecond, context.Background())
	h.plug(t)
	waitRowReturn(t, r.board, func(j status.Row) bool { return j.State == status.StateRefused })
	r.stop()
	<-r.done
	want := map[matchers.RefusalKind]uint64{matchers.RefusedReadOnly: 1}
	if got := r.st.GuardRefusals(); !maps.Equal(got, want) {
		t.Errorf("GuardRefusals() after a read-only stick = %v, want %v", got, want)
	}
}

// TestGuardRefusalsCountedBeforeFirstWrite: the re-check right before a
// job's first write counts its refusal too (here the stick vanished).
func TestGuardRefusalsCountedBeforeFirstWrite(t *testing.T) {
	h := newFakeHost(t)
	h.plug(t)
	opts := h.options()
	opts.Config = fakeHostConfig(t)
	s := New(opts)
	d, err := matchers.ReadFrom(h.sys, h.proc, "sdb")
	if err != nil {
		t.Fatal(err)
	}
	j := s.newJob(context.Background(), s.Config(), s.Config().Profiles[0], d, 1, 1, s.log)
	if err := j.pj.BeforeFirstWrite(); err != nil {
		t.Fatalf("BeforeFirstWrite() with the stick plugged in = %v, want nil", err)
	}
	h.sys.set(h.bare) // pulled
	if err := j.pj.BeforeFirstWrite(); kindOf(err) != matchers.RefusedVanished {
		t.Fatalf("BeforeFirstWrite() with the stick pulled = %v, want a refusal: it vanished", err)
	}
	want := map[matchers.RefusalKind]uint64{matchers.RefusedVanished: 1}
	if got := s.GuardRefusals(); !maps.Equal(got, want) {
		t.Errorf("GuardRefusals() = %v, want %v", got, want)
	}
}

func kindOf(err error) matchers.RefusalKind {
	r, ok := err.(*matchers.Refusal)
	if !ok {
		return 0
	}
	return r.Kind
}
