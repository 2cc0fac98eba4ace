# Misspelled attributes, everywhere they can be.
station {
  consurrency = 4 # ERROR: Unsupported argument | Did you mean "concurrency"?
}

source "docs" {
  paths  = ["../content/docs"]
  exlude = ["*.jpg"] # ERROR: Unsupported argument | Did you mean "exclude"?
}

profile "a" {
  priorty = 3 # ERROR: Unsupported argument

  match {
    serail = "4C53*" # ERROR: Unsupported argument | Did you mean "serial"?
  }
  step "wipe" {
    mod = "quick" # ERROR: Unsupported argument | Did you mean "mode"?
  }
}

profile "b" {
  priority = 1
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    lable = "X" # ERROR: Unsupported argument | Did you mean "label"?
  }
}

profile "c" {
  priority = 2
  step "partition" {}
  step "mkfs" {} # ERROR: Missing required argument | "type"
}
