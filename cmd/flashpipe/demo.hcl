# The demo station: three virtual sticks, no hardware and no root needed.
# `flashpipe demo` fills var.content with generated files and runs this.

variable "content" {
  type        = string
  description = "folder with the demo content"
}

station {
  name        = "demo"
  concurrency = 3
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
