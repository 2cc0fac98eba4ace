package status

import "sync"

// MaxPending is how many undelivered updates a subscriber may hold before
// the oldest are dropped.
const MaxPending = 4096

// subscriber queues updates for one reader. push never blocks; run delivers
// the queue to out until quit is closed.
type subscriber struct {
	mu      sync.Mutex
	pending []Row
	wake    chan struct{} // capacity 1: "pending is not empty"
	out     chan Row
	quit    chan struct{}
	exited  chan struct{}
	dropped int // updates lost to MaxPending, for tests
}

func newSubscriber() *subscriber {
	return &subscriber{
		wake:   make(chan struct{}, 1),
		out:    make(chan Row),
		quit:   make(chan struct{}),
		exited: make(chan struct{}),
	}
}

// push queues j. A pending update of the same job in the same state is
// replaced in place (a progress tick); anything else is appended.
func (s *subscriber) push(j Row) {
	s.mu.Lock()
	replaced := false
	for i := len(s.pending) - 1; i >= 0; i-- {
		if s.pending[i].ID == j.ID {
			if s.pending[i].State == j.State && s.pending[i].Step == j.Step {
				s.pending[i] = j
				replaced = true
			}
			break
		}
	}
	if !replaced {
		if len(s.pending) >= MaxPending {
			s.pending = s.pending[1:]
			s.dropped++
		}
		s.pending = append(s.pending, j)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) next() (Row, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return Row{}, false
	}
	j := s.pending[0]
	s.pending = s.pending[1:]
	if len(s.pending) == 0 {
		s.pending = nil // let the backing array go
	}
	return j, true
}

func (s *subscriber) run() {
	defer close(s.exited)
	defer close(s.out)
	for {
		j, ok := s.next()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-s.quit:
				return
			}
		}
		select {
		case s.out <- j:
		case <-s.quit:
			return
		}
	}
}
