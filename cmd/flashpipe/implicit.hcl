# The implicit profile: the original python-flashstation's, which the
# original tool's flags (-c/--clone, -x, --label, --fs, --table, -n) build
# without a station file. legacy.go fills in the source's paths and
# excludes, the values of the attributes table, type and label, drops the
# step with the label attribute when no --label is given, and drops the
# last step (eject) for build and flash.
source "clone" {
  paths = []
}

profile "clone" {
  match {}
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.clone] }
  step "label" { label = "" }
  step "verify" { hash = "sha1" }
  step "eject" {}
}
