# A block that is never closed.
profile "a" { # ERROR: Unclosed configuration block
  step "wipe" {}
