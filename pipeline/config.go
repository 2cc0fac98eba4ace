package pipeline

import (
	"path/filepath"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pool"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Config is everything loaded from one set of station files.
type Config struct {
	Files   []string // the files loaded, in order
	Digest  string   // SHA-256 over the files' names and bytes
	Station *StationBlock
	Vars    map[string]cty.Value
	// Locals and Sources hold every declared name, also one whose
	// definition failed (an unknown value; a source without paths), so
	// that its uses add nothing to the error where it is defined.
	Locals   map[string]cty.Value
	Sources  map[string]*SourceBlock
	Pools    map[string]*PoolBlock
	Profiles []*Profile // sorted by priority (highest first), then by name

	static *hcl.EvalContext
	// src holds each file's bytes by name; probed, the outcome of each
	// label expression probed, by filesystem and text (a generated config
	// repeats one label in many profiles). See checkLabel.
	src    map[string][]byte
	probed map[string]*hcl.Diagnostic
	// templates holds the templates templatefile calls read at load time,
	// by path, for diagnostics' source lines.
	templates map[string][]byte
}

// StationBlock decodes the station block:
//
//	station {
//	  name        = "hall-a"
//	  concurrency = 4
//	  receipts    = "/var/lib/flashpipe/receipts.jsonl"
//	  log_file    = "/var/log/flashpipe.log"
//	  image_cache = "/var/cache/flashpipe/images"
//	  allow_buses = ["usb"]
//	  ports       = ["1-1.*"]          # hub ports that get a dashboard tile
//	  listen      = "127.0.0.1:7070"
//	  token       = var.dashboard_token
//	  grace       = "2m"
//	}
type StationBlock struct {
	Name        string   `hcl:"name,optional"`
	Concurrency int      `hcl:"concurrency,optional"`
	Receipts    string   `hcl:"receipts,optional"`
	LogFile     string   `hcl:"log_file,optional"`
	ImageCache  string   `hcl:"image_cache,optional"` // where step "image" keeps decompressed images
	AllowBuses  []string `hcl:"allow_buses,optional"`
	Ports       []string `hcl:"ports,optional"` // globs of USB port paths shown on the dashboard before any stick
	Listen      string   `hcl:"listen,optional"`
	Token       string   `hcl:"token,optional"`
	// AllowedHosts are host names a dashboard without a token answers to
	// besides localhost and the loopback IPs (web.Options.Hosts).
	AllowedHosts []string `hcl:"allowed_hosts,optional"`
	GraceRaw     string   `hcl:"grace,optional"`

	Grace     time.Duration
	DeclRange hcl.Range
}

// ImageCacheDir is where decompressed disk images are kept: image_cache,
// or a folder "image-cache" beside the receipts file.
func (st *StationBlock) ImageCacheDir() string {
	if st.ImageCache != "" {
		return st.ImageCache
	}
	return filepath.Join(filepath.Dir(st.Receipts), "image-cache")
}

// Station defaults.
const (
	DefaultStationName = "flashpipe"
	DefaultConcurrency = 4
	DefaultGrace       = 2 * time.Minute
	DefaultReceipts    = "receipts.jsonl"
)

// Variable decodes a variable block:
//
//	variable "event" {
//	  type        = string
//	  default     = "EXPO"
//	  description = "event code printed on every label"
//	}
type Variable struct {
	Name string
	Type cty.Type
	// Literal says how a value given as text (--var, the environment) is
	// read. True for a variable without a type or of type string, number
	// or bool: the text itself is a string, converted to Type. False for
	// any other type (any, lists, maps, objects): the text is an HCL
	// expression. This is Terraform's rule.
	Literal     bool
	Default     cty.Value
	Description string
	DeclRange   hcl.Range
}

// SourceBlock decodes a reusable content block:
//
//	source "docs" {
//	  paths   = ["content/docs", "content/README.txt"]
//	  include = ["**/*.pdf", "**/*.txt"]
//	  exclude = ["**/*.jpg"]
//	}
//
// Relative paths are relative to the directory of the file that declares
// the source.
type SourceBlock struct {
	Name      string   `hcl:"name,label"`
	Paths     []string `hcl:"paths"`
	Include   []string `hcl:"include,optional"`
	Exclude   []string `hcl:"exclude,optional"`
	DeclRange hcl.Range
}

// PoolBlock decodes a data pool: rows that sticks take one each, never
// one row twice (package pool):
//
//	pool "keys" {
//	  csv        = "keys.csv"     # or jsonl = "keys.jsonl"
//	  on_failure = "burn"         # or "return": a failed stick's row goes back
//	  record     = "sha256"       # what receipts keep: "value", "sha256", "none"
//	  warn_below = 50             # warn when fewer rows are left
//	}
//
// The file is relative to the station file that declares the pool.
type PoolBlock struct {
	Name      string `hcl:"name,label"`
	CSV       string `hcl:"csv,optional"`
	JSONL     string `hcl:"jsonl,optional"`
	OnFailure string `hcl:"on_failure,optional"`
	Record    string `hcl:"record,optional"`
	WarnBelow int    `hcl:"warn_below,optional"`

	File      string // the pool file, absolute
	Format    pool.Format
	Columns   []string // nil when not read (validate --skip-content)
	Rows      int      // rows in the file when it was loaded
	DeclRange hcl.Range

	rows []pool.Row // the rows read at load, for checking labels that use them
}

// Burn reports whether a failed stick's row is spent (on_failure = "burn").
func (p *PoolBlock) Burn() bool { return p.OnFailure == "burn" }

// Pool defaults and choices.
const (
	DefaultPoolRecord    = "sha256"
	DefaultPoolOnFailure = "burn"
)

// Profile is one decoded and compiled profile block:
//
//	profile "sandisk" {
//	  priority       = 10
//	  min_write_mbps = 4    # fail sticks slower than 4 MB/s (optional)
//	  match { vendor_id = "0781" }
//	  step "wipe" { mode = "quick" }
//	  ...
//	}
type Profile struct {
	Name     string
	Priority int
	// MinWriteMBps fails a stick whose write rate stays below this many
	// MB/s (10^6 bytes); 0 means no minimum.
	MinWriteMBps float64
	Match        matchers.Rule
	MatchSrc     *MatchBlock // as written, for plan output
	Steps        []*StepBlock
	Stages       []*Stage   // compiled: see compile.go
	Write        *WriteSpec // the fused write stage's description; nil when there is none
	// Pools names the pools the profile's steps take a row from, sorted:
	// each job of the profile takes one row of each before it writes.
	Pools     []string
	DeclRange hcl.Range
}

// MatchBlock decodes a profile's match block. Every attribute is optional;
// an empty match takes any stick on an allowed bus.
//
//	match {
//	  vendor_id    = ["0781", "0x0951"]   # one or a list, hex with or without 0x
//	  product_id   = "5567"
//	  serial       = "4C53*"              # glob
//	  manufacturer = "SanDisk*"
//	  product      = "*Cruzer*"
//	  size         = "~8GB..~64GB"        # or "~16GB", ">= 4GB", "..64GiB"
//	  port         = "1-1.*"              # USB port path glob
//	  bus          = "usb"
//	}
type MatchBlock struct {
	VendorID     hcl.Expression `hcl:"vendor_id,optional"`
	ProductID    hcl.Expression `hcl:"product_id,optional"`
	Serial       hcl.Expression `hcl:"serial,optional"`
	Manufacturer hcl.Expression `hcl:"manufacturer,optional"`
	Product      hcl.Expression `hcl:"product,optional"`
	Size         hcl.Expression `hcl:"size,optional"`
	Port         hcl.Expression `hcl:"port,optional"`
	Bus          hcl.Expression `hcl:"bus,optional"`

	// Text holds each attribute as written, and SizeRange the size as
	// parsed, for plan output.
	Text      map[string]string
	SizeRange matchers.SizeRange
}

// StepMeta holds the meta-arguments every step block accepts, whatever its
// kind. The rest of the body is decoded into the kind's own struct.
//
//	step "copy" {
//	  name    = "content"   # shown in logs and receipts
//	  timeout = "10m"
//	  retries = 1
//	  ...kind attributes...
//	}
type StepMeta struct {
	Name       string   `hcl:"name,optional"`
	TimeoutRaw string   `hcl:"timeout,optional"`
	Retries    int      `hcl:"retries,optional"`
	Rest       hcl.Body `hcl:",remain"`

	Timeout time.Duration
}

// StepBlock is one decoded step block.
type StepBlock struct {
	Kind      string
	Meta      StepMeta
	Step      Step           // the kind's decoded struct
	Attrs     hcl.Attributes // the attributes decoded into Step, for diagnostic ranges
	Index     int            // position in the profile, from 0
	DeclRange hcl.Range
	TypeRange hcl.Range // the kind label, for diagnostics
}

// DisplayName is the step's name, or its kind.
func (s *StepBlock) DisplayName() string {
	if s.Meta.Name != "" {
		return s.Meta.Name
	}
	return s.Kind
}
