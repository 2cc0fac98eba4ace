# Every block and most attributes.
variable "event" {
  type        = string
  default     = "expo"
  description = "event code"
}

variable "copies" {
  type    = number
  default = 2
}

locals {
  label_prefix = upper(local.short)
  short        = substr(var.event, 0, 4)
}

station {
  name        = "hall-b"
  concurrency = 6
  receipts    = "/var/lib/flashpipe/receipts.jsonl"
  log_file    = "/var/log/flashpipe.log"
  allow_buses = ["usb", "mmc"]
  ports       = ["1-1.*", "2-1.*"]
  listen      = "127.0.0.1:7070"
  token       = "secret"
  grace       = "1m30s"
}

source "docs" {
  paths   = ["../content/docs"]
  include = ["**/*.txt"]
  exclude = ["**/b.*"]
}

profile "sandisk" {
  priority       = 10
  min_write_mbps = 2.5

  match {
    vendor_id    = ["0781", "0x0951"]
    product_id   = "5567"
    serial       = "4C53*"
    manufacturer = "SanDisk*"
    product      = "*Cruzer*"
    size         = "7GiB..64GiB"
    port         = "1-1.*"
    bus          = "usb"
  }

  step "wipe" {
    name    = "clear"
    mode    = "zero"
    timeout = "30m"
    retries = 1
  }
  step "partition" {
    table          = "gpt"
    partition_name = "CONTENT"
  }
  step "mkfs" {
    type         = "exfat"
    cluster_size = "64KiB"
    label        = "${local.label_prefix}-${job.seq}"
  }
  step "copy" {
    sources = [source.docs]
  }
  step "copy" {
    paths       = ["../content/docs/a.txt"]
    destination = "/extra"
  }
  step "label" {
    label = upper(format("%s%03d", local.short, job.seq))
  }
  step "verify" {
    hash  = "sha1"
    what  = "files"
    mount = false
  }
  step "eject" {
    even_if_failed = true
  }
}

profile "superfloppy" {
  priority = 5
  match {
    size = ">= 1GB"
  }
  step "wipe" {
    mode = "discard"
  }
  step "partition" {
    table = "none"
  }
  step "mkfs" {
    type  = "vfat"
    label = lower(device.vendor_id)
  }
  step "copy" {
    paths = ["../content/docs"]
  }
  step "verify" {}
  step "eject" {}
}

profile "linux" {
  priority = 1
  match {
    bus = ["mmc", "usb"]
  }
  step "partition" {
    table = "mbr"
  }
  step "mkfs" {
    type = "ext4"
  }
  step "copy" {
    paths = ["../content/docs"]
  }
  step "verify" {}
}
