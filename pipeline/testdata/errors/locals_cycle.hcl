# Locals that refer to each other in a circle.
locals {
  a = "${local.b}-x" # ERROR: Local value cycle
  b = local.c        # ERROR: Local value cycle
  c = upper(local.a) # ERROR: Local value cycle
  d = "fine"
  e = local.d
}

profile "a" {
  step "wipe" {}
}
