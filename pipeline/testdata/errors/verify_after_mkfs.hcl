# mkfs without its partition step: that one error. verify has a write
# before it, so it says nothing.
profile "a" {
  step "wipe" {}
  step "mkfs" { type = "vfat" } # ERROR: Step "mkfs" needs a partition step before it | superfloppy
  step "verify" {}
}
