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
    cluster_size = "128KiB" # ERROR: Invalid cluster size | on vfat, clusters are at most 64 KiB; or write "auto". exfat takes 128KiB clusters.
  }
  step "verify" {}
}

profile "f" {
  priority = 6
  match {
    size = "8GB" # ERROR: Invalid size range | Write "~8GB" for a stick sold as 8 GB (7.2 GB .. 8.1 GB), "8GB.." for at least 8 GB, "..8GB" for at most 8 GB
  }
  step "wipe" {}
}

profile "g" {
  priority = 7
  match {
    size = "~16GiB" # ERROR: Invalid size range | sold as, in KB, MB, GB or TB
  }
  step "wipe" {}
}

profile "h" {
  priority = 8
  match {
    size = 16 # ERROR: Invalid size range | "16" means exactly 16 bytes
  }
  step "wipe" {}
}
