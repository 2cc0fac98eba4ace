# Size ranges with bad units or bounds.
profile "a" {
  priority = 1
  match {
    size = "4GX..8GB" # ERROR: Invalid size range | unit
  }
  step "wipe" {}
}

profile "b" {
  priority = 2
  match {
    size = "64GB..8GB" # ERROR: Invalid size range | empty
  }
  step "wipe" {}
}

profile "c" {
  priority = 3
  match {
    size = "big" # ERROR: Invalid size range
  }
  step "wipe" {}
}

profile "d" {
  priority = 4
  step "partition" {}
  step "mkfs" {
    type         = "vfat"
    cluster_size = "3KiB" # ERROR: Invalid cluster size | power of two
  }
  step "verify" {}
}

profile "e" {
  priority = 5
  step "partition" {}
  step "mkfs" {
    type         = "vfat"
    cluster_size = "128KiB" # ERROR: Invalid cluster size | at most 64KiB
  }
  step "verify" {}
}
