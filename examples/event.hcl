# An event: sticks are routed to different content by who made them and by
# which hub port they are plugged into. Profiles are tried from the highest
# priority down; the first whose match takes the stick wins.
#
#   flashpipe plan examples/event.hcl

# A station has one station block across all its files; this file leaves
# it out so that it can be loaded together with station.hcl (as CI does:
# flashpipe validate examples/*.hcl), where "any" then takes every stick
# no profile here wants. Alone, it runs with the default station settings.

source "press" {
  paths = ["content/press"]
}

source "visitors" {
  paths   = ["content/visitors"]
  exclude = ["**/*.tmp"]
}

# Kingston sticks, bought for the press desk, get the press kit.
profile "press" {
  priority = 20

  match {
    vendor_id = "0951"
    size      = "~4GB..~64GB" # sold as 4 GB to 64 GB
  }

  step "wipe" {
    mode = "quick"
  }
  step "partition" {
    table = "mbr"
  }
  step "mkfs" {
    type  = "vfat"
    label = "PRESS"
  }
  step "copy" {
    sources     = [source.press]
    destination = "/press"
  }
  step "verify" {}
  step "eject" {}
}

# Any stick in the hub's port 4 also gets the press kit, with each stick
# numbered in its label.
profile "press-desk-port" {
  priority = 15

  match {
    port = "1-1.4"
  }

  step "wipe" {}
  step "partition" {}
  step "mkfs" {
    type = "vfat"
  }
  step "copy" {
    sources     = [source.press]
    destination = "/press"
  }
  step "label" {
    label = format("PRESS%03d", job.seq)
  }
  step "verify" {}
  step "eject" {}
}

# SanDisk and Alcor giveaway sticks get the visitor pack. They come from
# a cheap batch: each is probed first, and a fake (one that stores less
# than it claims) or a crawling one fails instead of taking the pack.
profile "visitors" {
  priority = 10

  match {
    vendor_id = ["0781", "0x058f"]
    size      = "..~32GB" # sold as 32 GB or less
  }

  step "probe" {
    on_fake        = "fail"
    min_write_mbps = 3
    max_time       = "1m"
  }
  step "wipe" {
    mode    = "quick"
    timeout = "2m"
  }
  step "partition" {
    table = "mbr"
  }
  step "mkfs" {
    type  = "vfat"
    label = "WELCOME"
  }
  step "copy" {
    sources = [source.visitors]
  }
  step "verify" {
    timeout = "10m"
    retries = 1
  }
  step "eject" {}
}
