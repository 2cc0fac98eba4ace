# USB ids that are not 1 to 4 hex digits.
profile "a" {
  priority = 1
  match {
    vendor_id  = "xyz1" # ERROR: Invalid USB id | "xyz1"
    product_id = ["5567", "0x12345"] # ERROR: Invalid USB id | "0x12345"
  }
  step "wipe" {}
}

profile "b" {
  priority = 2
  match {
    vendor_id = "" # ERROR: Invalid USB id
  }
  step "wipe" {}
}

profile "c" {
  priority = 3
  match {
    vendor_id = { id = "0781" } # ERROR: Invalid value | string or a list of strings
  }
  step "wipe" {}
}
