package status

import "testing"

// BenchmarkUpdate measures one progress update with three subscribers that
// never read (the worst case: every update lands in their queues).
func BenchmarkUpdate(b *testing.B) {
	board := NewBoard()
	for i := 0; i < 3; i++ {
		_, cancel := board.Subscribe()
		defer cancel()
	}
	j := Row{ID: 1, Port: "1-1.1", State: StateRunning, Step: "write", Total: 1 << 30}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j.Done = int64(i)
		board.Update(j)
	}
}
