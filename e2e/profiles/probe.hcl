# probe.hcl: scenarios 15 and 19. Every stick is screened by a probe step
# first; a fake one fails there (on_fake = "fail") and is not ejected, a
# genuine one gets the docs set on FAT32/MBR, is verified and ejected.
# Sticks whose serial starts with SPEED (19) also fail the probe when they
# write slower than 3 MB/s past their cache, and are not ejected.
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

profile "speed" {
  priority = 10
  match {
    vendor_id = ["0781"]
    serial    = ["SPEED*"]
  }
  step "probe" {
    min_write_mbps = 3
    max_time       = "4m"
  }
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" {
    type  = "vfat"
    label = "SPEED"
  }
  step "copy" { sources = [source.docs] }
  step "verify" {}
}
