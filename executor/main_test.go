package executor

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a step leaves a goroutine behind (the
// pipeline's producer must always end).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
