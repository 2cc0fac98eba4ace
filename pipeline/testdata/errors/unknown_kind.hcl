# A step kind that does not exist, with a did-you-mean suggestion.
profile "a" {
  step "wipes" { # ERROR: Unknown step kind | Did you mean "wipe"?
    mode = "quick"
  }
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "frobnicate" {} # ERROR: Unknown step kind | Valid kinds: copy, eject, file, image, label, mkfs, partition, probe, verify, wipe.
}
