# Locals in a cycle, and everything that uses them: an error on each local
# in the cycle, and nothing else. A local that only depends on the cycle
# (c) is not in it. A local whose own expression fails (d) is like them.
locals {
  a = local.b          # ERROR: Local value cycle | local.a refers
  b = local.a          # ERROR: Local value cycle | local.b refers
  c = "${local.a}-x"
  d = upper(var.nope)  # ERROR: Unsupported attribute | "nope"
}

station {
  name = local.a
}

source "s" {
  paths = [local.c]
}

profile "a" {
  priority = length(local.b)
  match {
    serial  = local.c
    product = [local.d]
  }
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = local.a
  }
  step "copy" { sources = [source.s] }
  step "label" { label = "${local.c}${local.d}" }
}
