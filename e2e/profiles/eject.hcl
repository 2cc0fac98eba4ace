# eject.hcl: scenarios 5 and 7. The docs set on FAT32/MBR, verified, then
# ejected (the USB device leaves the bus) — unless verify failed.
station {
  name        = "e2e"
  concurrency = 2
  receipts    = "/tmp/receipts.jsonl"
}

source "docs" {
  paths   = ["/content/docs"]
  exclude = ["**/*.jpg"]
}

profile "docs-eject" {
  match { vendor_id = ["0781"] }
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" {
    type  = "vfat"
    label = "EJECTED"
  }
  step "copy" { sources = [source.docs] }
  step "verify" {}
  step "eject" {}
}
