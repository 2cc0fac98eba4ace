# A customer delivery: large recordings on exFAT over GPT, every stick
# numbered in its label. Variables can be set per run:
#
#   flashpipe run --var customer=acme --var event=expo examples/customer.hcl
#   FLASHPIPE_VAR_event=fair flashpipe plan examples/customer.hcl

variable "customer" {
  type        = string
  default     = "acme"
  description = "folder under content/ that holds this customer's files"
}

variable "event" {
  type        = string
  default     = "expo"
  description = "event code used in the GPT partition name"
}

variable "min_size" {
  type        = string
  default     = "~8GB"
  description = "smallest stick accepted: \"~8GB\" is one sold as 8 GB (7.2 GB or more)"
}

locals {
  # Locals may refer to each other in any order.
  part_name = "${local.code} ${upper(var.customer)}"
  code      = upper(var.event)
  content   = "content/${var.customer}"
}

source "deliverable" {
  paths   = [local.content]
  exclude = ["**/.DS_Store", "**/Thumbs.db"]
}

profile "customer" {
  priority = 5

  match {
    bus  = "usb"
    size = ">= ${var.min_size}"
  }

  step "wipe" {
    mode = "quick"
  }
  step "partition" {
    table          = "gpt"
    partition_name = local.part_name
  }
  step "mkfs" {
    type         = "exfat"
    cluster_size = "128KiB"
  }
  step "copy" {
    name        = "deliverable"
    sources     = [source.deliverable]
    destination = "/${var.customer}"
  }
  step "label" {
    label = upper(format("EXPO%03d", job.seq))
  }
  step "verify" {
    what = "all"
  }
  step "eject" {
    even_if_failed = false
  }
}
