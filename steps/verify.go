package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/executor"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/hashicorp/hcl/v2"
)

// verifyKind declares the verify step: a stage of its own that reads back
// what the steps before it wrote. A stick is done only when it passed.
var verifyKind = pipeline.Kind{
	Name:     "verify",
	New:      func() pipeline.Step { return &Verify{Hash: "sha1", What: "all"} },
	Summary:  "read everything back from the stick, bypassing the page cache, and compare it with the content byte for byte (by SHA1 where a source changed since it was hashed)",
	Provides: []string{pipeline.RoleVerified},
	Requires: []pipeline.Order{{Roles: []string{pipeline.RoleWritten}, What: "a partition, mkfs or copy step",
		Why: "verify reads back what the profile wrote, but this profile writes nothing before it: add partition, mkfs and copy steps."}},
}

// Verify decodes a verify step. Everything is read back from the stick
// itself with the page cache dropped and bypassed.
//
//	step "verify" {
//	  hash  = "sha1"   # the only hash: the receipt's, and a file's check when its source changed
//	  what  = "all"    # "all": metadata byte for byte and every file; "files": files only
//	  mount = false    # also mount read-only and compare the tree (needs kernel support)
//	}
type Verify struct {
	Hash  string `hcl:"hash,optional"`
	What  string `hcl:"what,optional"`
	Mount bool   `hcl:"mount,optional"`
}

var _ pipeline.Runner = (*Verify)(nil)

// Check validates hash and what.
func (v *Verify) Check(c *pipeline.CheckContext) hcl.Diagnostics {
	diags := checkEnum(c, "hash", v.Hash, "sha1")
	return append(diags, checkEnum(c, "what", v.What, "all", "files")...)
}

// ErrVerifyFailed is wrapped by the error of a verification that read
// something other than what was written.
var ErrVerifyFailed = errors.New("verification failed")

// Run reads the plan back from the stick. A mismatch is an error: a failed
// verification is never reported as success. The outcome carries the
// result, passed or not.
func (v *Verify) Run(ctx context.Context, j *pipeline.Job) (pipeline.Outcome, error) {
	var out pipeline.Outcome
	if j.Plan == nil {
		return out, errors.New("verify: nothing was written by this job, so there is nothing to verify")
	}
	if err := beforeVerify(ctx, j); err != nil {
		return out, fmt.Errorf("verify: before-verify test hook: %w", err)
	}
	dev, err := openTarget(j)
	if err != nil {
		return out, err
	}
	plan := j.Plan
	if v.What == "files" {
		plan = filesOnly(plan)
	}
	res, err := executor.Verify(ctx, dev, plan, executor.Options{Progress: progress(j)})
	if res != nil {
		res.Scope = v.What
		j.Verified = res
		out.Verify, out.BytesVerified = res, res.Bytes
	}
	if err != nil {
		return out, err // executor errors name the step and the device
	}
	if v.Mount && res.OK {
		if err := v.checkMounted(ctx, j, res); err != nil {
			res.OK = false
			return out, fmt.Errorf("verify %s: mounted tree: %w", j.Target, err)
		}
	}
	if !res.OK {
		return out, fmt.Errorf("%w on %s: %s", ErrVerifyFailed, j.Target, describeFailure(res.FailedFiles, res.Metadata))
	}
	return out, nil
}

// Describe says what the step does, for plan.
func (v *Verify) Describe(*pipeline.WriteSpec, func(hcl.Expression) string) string {
	d := v.Hash + ", " + v.What + ", read back from the stick with the page cache bypassed"
	if v.Mount {
		d += ", then mounted read-only and compared"
	}
	return d
}

func describeFailure(files []receipts.FailedFile, metadata []string) string {
	var parts []string
	for i, f := range files {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more files", len(files)-5))
			break
		}
		parts = append(parts, f.Path)
	}
	if len(metadata) > 0 {
		parts = append(parts, "metadata: "+strings.Join(metadata, ", "))
	}
	return strings.Join(parts, "; ")
}

// filesOnly returns a copy of the plan that verifies file data only.
func filesOnly(p *fsimage.Plan) *fsimage.Plan {
	q := *p
	q.Extents = nil
	for _, e := range p.Extents {
		if e.Kind == fsimage.FileData {
			q.Extents = append(q.Extents, e)
		}
	}
	return &q
}

// checkMounted mounts the written filesystem read-only and compares the
// whole tree with the manifest, as the original tool's rsync --checksum
// did. The stick's exclusive handle is closed first (a mount cannot claim a
// partition of a disk held with O_EXCL); eject opens it again. Where the
// kernel cannot mount the filesystem, the result says so and the
// verification fails: it is never a pass. The partition is reached through
// a read-only loop device at its offset, so this works on kernels that
// parse no partition tables and needs no partition node to appear.
func (v *Verify) checkMounted(ctx context.Context, j *pipeline.Job, res *receipts.Verify) error {
	if j.ImageFile() {
		res.Mount = "not checked: mounting needs a block device, not an image file"
		return errors.New(res.Mount)
	}
	if err := j.Close(); err != nil {
		return err
	}
	j.Dev = nil
	part, detach, err := blockdev.AttachLoop(j.DevDir, j.Target, j.Plan.Partition.Offset, j.Plan.Partition.Length)
	if err != nil {
		return fmt.Errorf("attach the written partition read-only: %w", err)
	}
	defer detach()
	dir, err := os.MkdirTemp("", "flashpipe-verify-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	mc, err := executor.VerifyMount(ctx, part, j.Plan.Mount, j.Entries, dir)
	if mc != nil {
		res.Mount = mc.Message
	}
	if err != nil {
		return err
	}
	if !mc.OK {
		return errors.New(mc.Message)
	}
	return nil
}
