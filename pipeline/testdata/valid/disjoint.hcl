# Equal priorities but matches that cannot overlap: no warning.
profile "kingston" {
  match {
    vendor_id = "0951"
  }
  step "wipe" {}
}

profile "sandisk" {
  match {
    vendor_id = "0781"
  }
  step "wipe" {}
}

profile "small" {
  match {
    vendor_id = "090c"
    size      = "..8GB"
  }
  step "wipe" {}
}

profile "large" {
  match {
    vendor_id = "090c"
    size      = "16GB.."
  }
  step "wipe" {}
}

profile "port-1" {
  match {
    vendor_id = "abcd"
    port      = "1-1.1"
  }
  step "wipe" {}
}

profile "port-2" {
  match {
    vendor_id = "abcd"
    port      = "1-1.2"
  }
  step "wipe" {}
}
