# The original python-flashstation, as one profile: every stick that is
# plugged in is wiped, given an MBR with one FAT32 partition, filled with
# the content folder, read back and compared, labelled and ejected.
#
#   flashpipe validate examples/station.hcl
#   flashpipe plan examples/station.hcl
#   flashpipe run examples/station.hcl
#
# The same profile without a file: flashpipe run -c examples/content/station

station {
  name        = "flashstation"
  concurrency = 4
  allow_buses = ["usb"]
  receipts    = "receipts.jsonl"
  grace       = "2m"
}

source "content" {
  paths = ["content/station"]
}

profile "any" {
  match {} # any stick on an allowed bus

  step "wipe" {
    mode = "quick"
  }
  step "partition" {
    table = "mbr"
  }
  step "mkfs" {
    type = "vfat"
  }
  step "copy" {
    sources = [source.content]
  }
  step "verify" {
    hash = "sha1"
  }
  # The label is part of the fused write (FAT boot sector and volume
  # entry), so the verify step above covers it as well.
  step "label" {
    label = "FLASHPIPE"
  }
  step "eject" {}
}
