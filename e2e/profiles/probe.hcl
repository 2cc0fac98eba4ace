# probe.hcl: scenario 15. Every stick is screened by a probe step first; a
# fake one fails there (on_fake = "fail") and is not ejected, a genuine one
# gets the docs set on FAT32/MBR, is verified and ejected.
station {
  name        = "e2e"
  concurrency = 3
  receipts    = "/tmp/receipts.jsonl"
}

source "docs" {
  paths   = ["/content/docs"]
  exclude = ["**/*.jpg"]
}

profile "screened" {
  match { vendor_id = ["0781"] }
  step "probe" {
    on_fake  = "fail"
    max_time = "4m"
  }
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" {
    type  = "vfat"
    label = "SCREENED"
  }
  step "copy" { sources = [source.docs] }
  step "verify" {}
  step "eject" {}
}
