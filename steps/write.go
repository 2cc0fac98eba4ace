package steps

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/executor"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/compile"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"github.com/flashpipe/flashpipe/fsimage/ptable"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
)

// writer is the write stage: partition, mkfs, copy, file and label fused into
// one plan that is streamed to the stick sequentially.
type writer struct {
	layout *pipeline.WriteSpec
	cache  *manifest.Cache // SHA1s, shared by every job of the profile
}

func newWriter(l *pipeline.WriteSpec) *writer {
	return &writer{layout: l, cache: manifest.NewCache()}
}

// Sources returns the manifest sources of a layout's copy steps: each
// referenced source with the copy step's include and exclude added, and
// the step's inline paths.
func Sources(l *pipeline.WriteSpec) []manifest.Source {
	var out []manifest.Source
	for _, c := range l.Copies {
		for _, s := range c.Sources {
			out = append(out, manifest.Source{
				Paths:   s.Paths,
				Include: append(append([]string(nil), s.Include...), c.Include...),
				Exclude: append(append([]string(nil), s.Exclude...), c.Exclude...),
				Dest:    c.Destination,
			})
		}
		if len(c.Paths) > 0 {
			out = append(out, manifest.Source{Paths: c.Paths, Include: c.Include, Exclude: c.Exclude, Dest: c.Destination})
		}
	}
	return out
}

// Content scans and hashes a layout's content. Hashes come from the cache
// when a file's path, size, mtime and inode are unchanged.
func Content(ctx context.Context, l *pipeline.WriteSpec, cache *manifest.Cache, now time.Time, progress func(done, total int64)) ([]*fsimage.Entry, error) {
	entries, err := manifest.Scan(Sources(l), manifest.Options{Now: now})
	if err != nil {
		return nil, err
	}
	if err := manifest.Hash(ctx, entries, cache, progress); err != nil {
		return nil, err
	}
	return entries, nil
}

// Spec returns the compile spec of a layout for one stick.
func Spec(l *pipeline.WriteSpec, entries []*fsimage.Entry, label string, serial uint32, now time.Time) compile.Spec {
	return compile.Spec{
		Table: l.Table, PartName: l.PartName, FS: l.FS, ClusterSize: l.ClusterSize,
		Label: label, Serial: serial, Entries: entries, Now: now,
	}
}

// VolumeSerial derives a per-stick volume serial from the job.
func VolumeSerial(j *pipeline.Job) uint32 {
	h := fnv.New32a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(j.Now.UnixNano()))
	binary.LittleEndian.PutUint64(b[8:], uint64(j.Seq))
	h.Write(b[:])
	h.Write([]byte(j.Target))
	h.Write([]byte(j.Device.Serial))
	return h.Sum32()
}

// JobLabel evaluates the layout's label for the job's stick.
func JobLabel(l *pipeline.WriteSpec, j *pipeline.Job) (string, error) {
	if !pipeline.IsSet(l.Label) {
		return "", nil
	}
	s, diags := pipeline.EvalString(l.Label, j.EvalContext())
	if diags.HasErrors() {
		return "", fmt.Errorf("label: %s", diags.Error())
	}
	return s, nil
}

var _ pipeline.Preparer = (*writer)(nil)

// Prepare builds the stick's plan before any stage runs. Content that does
// not fit fails here, with the bytes needed and available, before the wipe
// or anything else has written a byte.
func (w *writer) Prepare(ctx context.Context, j *pipeline.Job) error {
	entries, err := Content(ctx, w.layout, w.cache, j.Now, hashProgress(j))
	if err != nil {
		return fmt.Errorf("content: %w", err)
	}
	if changed := w.cache.TakeChanged(); len(changed) > 0 && j.Progress != nil {
		j.Progress(pipeline.StageProgress{Stage: "hash", Note: fmt.Sprintf(
			"content changed since it was last hashed; %d file(s) hashed again, sticks from now on get the new content: %s",
			len(changed), strings.Join(changed, ", "))})
	}
	if entries, err = Generate(w.layout, j, entries); err != nil {
		return err
	}
	label, err := JobLabel(w.layout, j)
	if err != nil {
		return err
	}
	dev, err := openTarget(j)
	if err != nil {
		return err
	}
	plan, err := compile.Build(Spec(w.layout, entries, label, VolumeSerial(j), j.Now), capacity(j, dev.Size), dev.LogicalSectorSize)
	if err != nil {
		var ns *fsimage.NoSpaceError
		if errors.As(err, &ns) {
			return fmt.Errorf("%s: nothing written: %w", j.Target, err)
		}
		return fmt.Errorf("plan for %s: %w", j.Target, err)
	}
	plan.DeviceSize = dev.Size // laid out in the usable part (see Probe) of this device
	plan.InlineData()          // generated files' bytes, held in memory
	j.Plan, j.Entries = plan, entries
	j.Closers = append(j.Closers, func() error {
		if plan.Cleanup != nil {
			return plan.Cleanup()
		}
		return nil
	})
	return nil
}

// Run streams the plan Prepare built. The outcome counts the bytes of the
// plan written, up to a failure if there is one.
func (w *writer) Run(ctx context.Context, j *pipeline.Job) (pipeline.Outcome, error) {
	var out pipeline.Outcome
	if j.Plan == nil {
		if err := w.Prepare(ctx, j); err != nil {
			return out, err
		}
	}
	out.Label, out.ManifestDigest, out.DiskIDs = j.Plan.Label, manifest.Digest(Shared(j.Entries)), diskIDs(w.layout, j.Plan)
	out.Files = generatedFiles(j.Entries)
	dev, err := openTarget(j)
	if err != nil {
		return out, err
	}
	st, err := executor.Write(ctx, dev, j.Plan, executor.Options{Progress: progress(j), MinWriteMBps: j.Profile.MinWriteMBps, Hashes: w.cache})
	out.BytesWritten = st.Bytes
	var changed *executor.SourceError
	if errors.As(err, &changed) {
		// This stick fails; the next one hashes the file again, whatever
		// stat says of it.
		w.cache.Forget(changed.Source)
	}
	return out, err // executor errors name the step and the device
}

// diskIDs are the identifiers plan gives the stick: the partition table's
// and the filesystem's, all derived from the plan's per-stick serial.
func diskIDs(w *pipeline.WriteSpec, plan *fsimage.Plan) *receipts.DiskIDs {
	ids := &receipts.DiskIDs{}
	switch w.Table {
	case ptable.MBR:
		ids.MBRSignature = ptable.MBRSignature(plan.Serial)
	case ptable.GPT:
		ids.DiskGUID, ids.PartitionGUID = ptable.DiskGUID(plan.Serial), ptable.PartitionGUID(plan.Serial)
	}
	if fs, err := compile.Lookup(w.FS); err == nil {
		ids.VolumeID = fs.VolumeID(plan.Serial)
	}
	return ids
}
