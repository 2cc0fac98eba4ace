# References to things that are not declared.
variable "event" {
  default = "EXPO"
}

source "docs" {
  paths = ["../content/docs"]
}

source "more" {
  paths = ["../content/${var.evnt}"] # ERROR: Unsupported attribute | "evnt"
}

locals {
  code = lower(var.nothing) # ERROR: Unsupported attribute
}

profile "a" {
  priority = 1
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" {
    sources = [source.doc] # ERROR: Reference to undeclared source | Did you mean "docs"?
  }
  step "verify" {}
}

profile "b" {
  priority = 2
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = device.serail # ERROR: Unknown attribute device.serail | Did you mean "serial"?
  }
  step "verify" {}
}

profile "c" {
  priority = 3
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "label" {
    label = format("%s-%03d", var.evnt, job.seq) # ERROR: Unknown attribute var.evnt | Did you mean "event"?
  }
  step "verify" {}
}

profile "d" {
  priority = 4
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "label" {
    label = devise.serial # ERROR: Unknown variable | Did you mean "device"?
  }
  step "verify" {}
}

profile "e" {
  priority = 5
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" {
    sources = [var.event] # ERROR: Invalid source reference
  }
  step "verify" {}
}

profile "f" {
  priority = 6
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "label" {
    label = upper(job) # ERROR: Invalid function argument
  }
  step "verify" {}
}

profile "g" {
  priority = 7
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "label" {
    label = uper(device.serial) # ERROR: Call to unknown function | Did you mean "upper"?
  }
  step "verify" {}
}
