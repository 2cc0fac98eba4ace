# The implicit image profile: --image FILE writes that disk image to every
# stick, without a station file. legacy.go fills in the step's source and
# bmap (--bmap), and drops the last step (eject) for flash.
profile "image" {
  match {}
  step "wipe" { mode = "quick" }
  step "image" {
    source = ""
    bmap   = "auto"
  }
  step "verify" {}
  step "eject" {}
}
