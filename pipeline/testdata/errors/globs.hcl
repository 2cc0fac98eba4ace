# Glob patterns doublestar cannot use.
source "docs" {
  paths   = ["../content/docs"]
  include = ["[abc"] # ERROR: Invalid glob pattern
}

profile "a" {
  priority = 1
  match {
    serial = "4C53[" # ERROR: Invalid glob pattern
    port   = ["1-1.*", "{1-2"] # ERROR: Invalid glob pattern
  }
  step "wipe" {}
}

profile "b" {
  priority = 2
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" {
    sources = [source.docs]
    exclude = ["**/*.jpg", "[z"] # ERROR: Invalid glob pattern
  }
  step "verify" {}
}
