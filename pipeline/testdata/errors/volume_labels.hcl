# Labels that cannot be written, caught before any stick arrives when they
# do not depend on the stick.
variable "event" {
  default = "EXPO-HALL-A-2026"
}

profile "a" {
  priority = 1
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = "TWELVE_CHARS" # ERROR: Invalid volume label | at most 11 characters
  }
  step "verify" {}
}

profile "b" {
  priority = 2
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "label" {
    label = upper(var.event) # ERROR: Invalid volume label | at most 11
  }
  step "verify" {}
}

profile "c" {
  priority = 3
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = "A/B" # ERROR: Invalid volume label | printable ASCII
  }
  step "verify" {}
}

profile "d" {
  priority = 4
  step "partition" {}
  step "mkfs" {
    type  = "ext4"
    label = "seventeen-bytes-x" # ERROR: Invalid volume label | 16 bytes
  }
  step "verify" {}
}

profile "e" {
  priority = 5
  step "partition" {}
  step "mkfs" {
    type  = "exfat"
    label = "Ausstellung 26" # ERROR: Invalid volume label | 11 UTF-16 units
  }
  step "verify" {}
}

# Per-stick labels are checked when each job starts.
profile "f" {
  priority = 6
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = "${var.event}-${job.seq}"
  }
  step "verify" {}
}
