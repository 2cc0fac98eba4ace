//go:build testhooks

package steps

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"github.com/flashpipe/flashpipe/pipeline"
)

// TestHooks reports whether this binary was built with the testhooks tag:
// `go build -tags testhooks`, as the end-to-end suite (e2e/run.sh) does.
// Release builds never are.
const TestHooks = true

// beforeVerify runs the program named by FLASHPIPE_TEST_BEFORE_VERIFY, if
// set, as `program DEVPATH` right before the verify stage reads the stick,
// with the path and device offset of the plan's first non-empty file in
// FLASHPIPE_TEST_FILE_PATH and FLASHPIPE_TEST_FILE_OFFSET. The end-to-end
// suite corrupts a stick with it, to prove that verification catches it.
func beforeVerify(ctx context.Context, j *pipeline.Job) error {
	prog := os.Getenv("FLASHPIPE_TEST_BEFORE_VERIFY")
	if prog == "" {
		return nil
	}
	c := exec.CommandContext(ctx, prog, j.Target)
	c.Env = os.Environ()
	if j.Plan != nil && len(j.Plan.Files) > 0 {
		f := j.Plan.Files[0]
		c.Env = append(c.Env, "FLASHPIPE_TEST_FILE_PATH="+f.Entry.Path, "FLASHPIPE_TEST_FILE_OFFSET="+strconv.FormatInt(f.Offset, 10))
	}
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", prog, err, out)
	}
	return nil
}
