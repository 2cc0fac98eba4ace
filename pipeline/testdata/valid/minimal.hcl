# The smallest useful profile: wipe every stick.
profile "wipe-only" {
  step "wipe" {}
}
