# Variables without a value, or with one that does not fit.
variable "customer" { # ERROR: No value for required variable | --var customer=VALUE
  type = string
}

variable "count" {
  type    = number
  default = "many" # ERROR: Invalid default value
}

variable "kind" {
  type = strin # ERROR: Invalid type specification
}

variable "9lives" { # ERROR: Invalid variable name
  default = 1
}

# Uses of a variable without a value add no errors of their own.
profile "a" {
  priority = length(var.customer)
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = var.customer
  }
}
