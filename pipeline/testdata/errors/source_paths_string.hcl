# A source whose paths is a string, not a list: one error on the source.
# The copy steps that name it are not wrong, and say nothing.
source "x" {
  paths = "../content/docs" # ERROR: Incorrect attribute value type | Inappropriate value for attribute "paths": list of string required, but have string.
}

profile "a" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.x] }
  step "copy" {
    sources     = [source.x]
    destination = "/more"
  }
  step "verify" {}
}
