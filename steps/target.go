package steps

import (
	"errors"
	"fmt"
	"os"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/executor"
	"github.com/flashpipe/flashpipe/pipeline"
)

// openTarget opens the job's target on first use and keeps it in the job,
// so every stage works on one exclusive handle. Right after the open, and
// before any stage writes, the station's identity re-check runs.
func openTarget(j *pipeline.Job) (*blockdev.Device, error) {
	if j.Dev != nil {
		return j.Dev, nil
	}
	dev, err := blockdev.Open(j.Target, blockdev.Options{})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", j.Target, err)
	}
	j.Dev = dev
	j.Closers = append(j.Closers, func() error {
		// eject's PowerOff closes the device itself.
		if err := dev.Close(); !errors.Is(err, os.ErrClosed) {
			return err
		}
		return nil
	})
	if j.BeforeFirstWrite != nil {
		if err := j.BeforeFirstWrite(); err != nil {
			return nil, fmt.Errorf("%s: identity re-check before the first write: %w", j.Target, err)
		}
	}
	return dev, nil
}

// progress adapts the job's progress callback to the executor's.
func progress(j *pipeline.Job) executor.ProgressFunc {
	return func(p executor.Progress) {
		if j.Progress != nil {
			j.Progress(pipeline.StageProgress{Stage: p.Step, Counts: counts[p.Step], Done: p.Done, Total: p.Total, Rate: p.Rate, ETA: p.ETA, Note: p.Note})
		}
	}
}

// counts says which of the job's byte counters each executor step advances.
var counts = map[string]pipeline.Counts{"write": pipeline.CountsWritten, "verify": pipeline.CountsVerified}

// hashProgress reports content hashing as the "hash" stage.
func hashProgress(j *pipeline.Job) func(done, total int64) {
	return func(done, total int64) {
		if j.Progress != nil {
			j.Progress(pipeline.StageProgress{Stage: "hash", Done: done, Total: total})
		}
	}
}
