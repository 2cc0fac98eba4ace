# Values outside each attribute's choices.
profile "a" {
  priority = 1
  step "wipe" {
    mode = "fast" # ERROR: Invalid mode | "quick", "zero", "discard", "none"
  }
  step "partition" {
    table = "apm" # ERROR: Invalid table | "mbr", "gpt", "none"
  }
  step "mkfs" {
    type = "fat32" # ERROR: Invalid type | "fat32" is a variant of "vfat", which the stick's size picks: write type = "vfat".
  }
  step "verify" {
    hash = "md5"  # ERROR: Invalid hash
    what = "some" # ERROR: Invalid what
  }
}

profile "b" {
  priority = 2
  step "partition" {
    table          = "mbr"
    partition_name = "DATA" # ERROR: Partition name needs GPT
  }
  step "verify" {}
}

profile "c" {
  priority = 3
  step "partition" {}
  step "mkfs" {
    type         = "ext4"
    cluster_size = "4KiB" # ERROR: Cluster size not supported for ext4 | ext4 sets its own block size; remove cluster_size. vfat and exfat take 4KiB clusters.
  }
  step "verify" {}
}

profile "d" {
  priority = 4
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" {
    paths       = ["../content/docs"]
    destination = "../up" # ERROR: Invalid destination
  }
  step "verify" {}
}

profile "e" {
  priority = 5
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" {} # ERROR: Nothing to copy
  step "verify" {}
}

profile "f" {
  priority = 6
  step "wipe" {
    mode = 3 # ERROR: Invalid mode
  }
}

profile "g" {
  priority = 7
  step "wipe" {
    mode = ["quick"] # ERROR: Incorrect attribute value type | attribute "mode": string required
  }
}

profile "h" {
  priority = 8
  step "partition" {}
  step "mkfs" {
    type = "ntfs" # ERROR: Invalid type | type = "ntfs" is not valid. Choose one of: "vfat" (FAT32, or FAT16 on sticks too small for FAT32); "exfat" (
  }
  step "verify" {}
}
