# Names declared twice, and a second station block.
station {
  name = "one"
}

station { # ERROR: Duplicate station block
  name = "two"
}

variable "x" {
  default = 1
}

variable "x" { # ERROR: Duplicate variable "x"
  default = 2
}

source "docs" {
  paths = ["../content/docs"]
}

source "docs" { # ERROR: Duplicate source "docs"
  paths = ["../content/docs"]
}

locals {
  a = 1
}

locals {
  a = 2 # ERROR: Duplicate local value
}

profile "p" {
  priority = 1
  step "wipe" {}
}

profile "p" { # ERROR: Duplicate profile "p"
  priority = 2
  step "wipe" {}
}

profile "q" {
  priority = 3
  match {}
  match {} # ERROR: Duplicate match block
  step "wipe" {}
}
