# A profile that writes sticks without reading them back is warned about:
# its sticks end "unverified", never done, and validate --strict fails on it.
profile "fast" { # WARNING: Profile does not verify | runs wipe, partition, mkfs, copy but no step that reads back what it wrote
  match { vendor_id = "0781" }
  step "wipe" {}
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" { paths = ["../content"] }
}

# A profile that writes nothing a verify step could read is not warned about.
profile "erase" {
  match { vendor_id = "0951" }
  step "wipe" { mode = "zero" }
}
