# image.hcl: scenario 13. A disk image laid out as Raspberry Pi OS ships
# one (MBR, FAT32 boot, ext4 root), xz-compressed, with its block map next
# to it (pi.img.bmap; run.sh stages what e2e/mkimage.sh built). Every stick
# matches, so one too small for the image is refused by the image step
# (receipt failed, nothing written) rather than ignored. No wipe step: the
# stale bytes scenario 13 puts on a stick must be overwritten by the image
# step itself wherever the block map maps them.
station {
  name        = "e2e"
  concurrency = 3
  receipts    = "/tmp/receipts.jsonl"
}

profile "pi" {
  match {}
  step "image" {
    source = "/e2e/image/pi.img.xz"
    bmap   = "auto"
  }
  step "verify" {}
}
