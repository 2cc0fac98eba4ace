# The demo station: three virtual sticks, no hardware and no root needed.
# `flashpipe demo` writes this file beside its images and generated content
# and runs it; `flashpipe plan demo.hcl` shows what it does.

variable "content" {
  type        = string
  default     = "content"
  description = "folder with the demo content, relative to this file"
}

station {
  name        = "demo"
  concurrency = 3
  receipts    = "receipts.jsonl"
}

source "demo" {
  paths   = [var.content]
  exclude = ["**/*.tmp"]
}

profile "fat32" {
  priority = 10
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.demo] }
  step "label" { label = format("DEMO%02d", job.seq) }
  step "verify" {}
  step "eject" {}
}

profile "exfat" {
  step "wipe" { mode = "quick" }
  step "partition" {
    table          = "gpt"
    partition_name = "DEMO"
  }
  step "mkfs" {
    type  = "exfat"
    label = upper(format("%s-%d", station.name, job.seq))
  }
  step "copy" { sources = [source.demo] }
  step "verify" {}
  step "eject" {}
}
