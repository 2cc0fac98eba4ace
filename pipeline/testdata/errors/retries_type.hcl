# A meta-argument of the wrong type: one error that names the attribute,
# and the profile still has its steps.
profile "a" {
  step "wipe" {
    retries = "two" # ERROR: Incorrect attribute value type | Inappropriate value for attribute "retries": a number is required.
  }
}

profile "b" {
  priority = 1
  step "wipe" {
    timeout = 90  # ERROR: Invalid duration | timeout = "90"
    mod     = "x" # ERROR: Unsupported argument | Did you mean "mode"?
  }
}
