# Steps in an order that cannot work.
profile "out-of-order" {
  priority = 1
  step "wipe" {}
  step "mkfs" { type = "vfat" } # ERROR: Step "mkfs" needs a partition step before it | Step "partition" (at testdata/errors/order.hcl:6,3-19) comes after it.
  step "partition" {}           # one cause, one diagnostic: the one above names this step
}

profile "mkfs-without-partition" {
  priority = 2
  step "wipe" {}
  step "mkfs" { type = "vfat" } # ERROR: Step "mkfs" needs a partition step before it | superfloppy
}

profile "copy-without-mkfs" {
  priority = 3
  step "partition" {}
  step "copy" { paths = ["../content/docs"] } # ERROR: Step "copy" needs a mkfs step before it
}

profile "eject-not-last" {
  priority = 4
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "eject" {}
  step "verify" {} # ERROR: Step after eject | eject must be the last step
}

profile "twice" {
  priority = 5
  step "wipe" {}
  step "wipe" { mode = "zero" } # ERROR: Duplicate wipe step
}

profile "label-without-mkfs" {
  priority = 6
  step "partition" {}
  step "label" { label = "X" } # ERROR: Step "label" needs a mkfs step before it
}

profile "verify-alone" {
  priority = 7
  step "verify" {} # ERROR: Step "verify" needs a partition, mkfs or copy step before it
}

profile "empty" { # ERROR: Profile without steps
  priority = 8
}

profile "wipe-after-write" {
  priority = 9
  step "partition" {}
  step "wipe" {} # ERROR: Step out of order | step "wipe" must come before step "partition"
}

profile "copy-after-verify" {
  priority = 10
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "verify" {}
  step "copy" { paths = ["../content/docs"] } # ERROR: Step out of order | step "copy" must come before step "verify"
}
