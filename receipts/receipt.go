// Package receipts defines the record a station keeps of every job: one JSON
// object per line in the receipts file, appended and fsynced per job.
package receipts

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Receipt is one job's record.
type Receipt struct {
	Time           time.Time `json:"time"`    // when the job ended
	Started        time.Time `json:"started"` // when the job started
	Station        string    `json:"station"` // station.name
	Profile        string    `json:"profile"` // profile name ("" when none matched)
	ConfigDigest   string    `json:"config_digest"`
	ManifestDigest string    `json:"manifest_digest,omitempty"`
	Job            int       `json:"job"` // job.seq
	Device         Device    `json:"device"`
	Label          string    `json:"label,omitempty"`
	DiskIDs        *DiskIDs  `json:"disk_ids,omitempty"` // identifiers the write gave the stick
	// Files are the files generated for this stick (step "file"); the
	// manifest digest covers the shared content only.
	Files []GeneratedFile `json:"files,omitempty"`
	// PoolRows are the rows the job took from pools, as each pool's
	// record says.
	PoolRows      []PoolRow `json:"pool_rows,omitempty"`
	Steps         []Step    `json:"steps"`
	Verify        *Verify   `json:"verify,omitempty"` // nil when no verify step ran
	Result        Result    `json:"result"`
	FailedStep    string    `json:"failed_step,omitempty"`
	Error         string    `json:"error,omitempty"`
	BytesWritten  int64     `json:"bytes_written"`
	BytesVerified int64     `json:"bytes_verified"`
}

// Result is how a job ended. It names exactly what was done: a stick is
// "done" only when what was written to it was read back from it and found
// equal.
type Result string

// The results a job can end with. A newer program may write others; readers
// count those apart.
const (
	// ResultDone: every stage succeeded and a verify stage read what was
	// written back from the stick and found it equal.
	ResultDone Result = "done"
	// ResultUnverified: every stage succeeded, but nothing read the
	// written data back (the profile has no verify step).
	ResultUnverified Result = "unverified"
	// ResultFailed: a stage failed; FailedStep and Error say which and why.
	ResultFailed Result = "failed"
	// ResultRemoved: the stick was pulled while the job ran.
	ResultRemoved Result = "removed"
	// ResultInterrupted: the station stopped while the job ran — it was
	// killed, crashed, or the machine lost power — so the job never
	// ended; the station wrote this receipt when it started again, from
	// its journal (FailedStep is the stage the job had reached). What is
	// on the stick is unknown.
	ResultInterrupted Result = "interrupted"
)

// Results returns every result this program writes, in the order reports
// list them: the one list of them (/metrics starts a counter at zero for
// each).
func Results() []Result {
	return []Result{ResultDone, ResultUnverified, ResultFailed, ResultRemoved, ResultInterrupted}
}

// DiskIDs are the identifiers a write gave the stick, as blkid reports
// them. flashpipe derives them from a per-stick serial, so no two sticks
// share one (Windows refuses a second disk with the same MBR signature).
type DiskIDs struct {
	MBRSignature  string `json:"mbr_signature,omitempty"`  // PTUUID of an MBR disk: 8 hex digits
	DiskGUID      string `json:"disk_guid,omitempty"`      // PTUUID of a GPT disk
	PartitionGUID string `json:"partition_guid,omitempty"` // PARTUUID of its partition (GPT)
	VolumeID      string `json:"volume_id,omitempty"`      // UUID of the filesystem: "1A2B-3C4D" (FAT, exFAT) or a UUID (ext4)
}

// GeneratedFile is one file generated for a stick: its path inside the
// filesystem and the SHA1 of its bytes (verify reads it back).
type GeneratedFile struct {
	Path string `json:"path"`
	SHA1 string `json:"sha1"`
	Size int64  `json:"size"`
}

// PoolRow is a row a job took from a pool. Values holds the row as the
// pool's record says: the values themselves ("value"), "sha256:<hex>" of
// each ("sha256"), or nothing ("none"). Outcome says what became of the
// row: "spent" (it stays on the stick), "returned" or "burnt"; the pool's
// journal says the same.
type PoolRow struct {
	Pool    string            `json:"pool"`
	Row     int               `json:"row"`
	Values  map[string]string `json:"values,omitempty"`
	Outcome string            `json:"outcome,omitempty"`
}

// ValueHash is what a receipt keeps of a pool row's value when the pool's
// record is "sha256": "sha256:" and the hex SHA-256 of the value.
func ValueHash(v string) string {
	s := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(s[:])
}

// Device is the identity of the stick the job ran on.
type Device struct {
	Name      string `json:"name"` // kernel name, e.g. "sdb", or an image path
	VendorID  string `json:"vendor_id,omitempty"`
	ProductID string `json:"product_id,omitempty"`
	Serial    string `json:"serial,omitempty"`
	Port      string `json:"port,omitempty"` // USB port path, e.g. "1-1.4"
	Size      int64  `json:"size"`
	DiskSeq   uint64 `json:"diskseq,omitempty"`
}

// Step is one executed stage: a step kind's, or the fused write stage's.
type Step struct {
	Kind          string         `json:"kind"` // the step kind, or "write" for the fused partition+mkfs+copy+label
	Fused         []string       `json:"fused,omitempty"`
	DurationMS    int64          `json:"duration_ms"`
	BytesWritten  int64          `json:"bytes_written,omitempty"`  // written to the stick by this stage
	BytesVerified int64          `json:"bytes_verified,omitempty"` // read back and compared by this stage
	Details       map[string]any `json:"details,omitempty"`        // whatever else the kind reports
	Note          string         `json:"note,omitempty"`           // the line the operator was shown
	Error         string         `json:"error,omitempty"`
}

// Verify is the verification result. OK is true only when every extent and
// every file read back from the device matched.
type Verify struct {
	OK          bool         `json:"ok"`
	Scope       string       `json:"scope,omitempty"` // "all": metadata byte for byte and every file; "files": file data only
	Files       int          `json:"files"`           // files checked
	Bytes       int64        `json:"bytes"`           // bytes read back
	FailedFiles []FailedFile `json:"failed_files,omitempty"`
	Metadata    []string     `json:"metadata_mismatches,omitempty"` // extents ("fat #1", "dir /docs") that differed
	Mount       string       `json:"mount,omitempty"`               // result of the optional mounted-tree check
}

// FailedFile is a file whose run on the device did not match the manifest.
type FailedFile struct {
	Path string `json:"path"`
	Want string `json:"want_sha1"`
	Got  string `json:"got_sha1,omitempty"`
	Err  string `json:"error,omitempty"`
}
