//go:build !testhooks

package steps

import (
	"context"

	"github.com/flashpipe/flashpipe/pipeline"
)

// TestHooks reports whether this binary was built with the testhooks tag.
// A release build is not: it has no test hooks, and the environment cannot
// make it run anything.
const TestHooks = false

// beforeVerify does nothing in a release build.
func beforeVerify(context.Context, *pipeline.Job) error { return nil }
