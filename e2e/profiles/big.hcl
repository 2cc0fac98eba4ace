# big.hcl: scenarios 4, 16, 18, 20 and 21. 64 MiB of content, so a write
# under TCG lasts long enough to pull the stick in the middle of it (4),
# to hang it (18) or make it flaky (20) there, and a bad region in the
# middle of a stick lies under the big file (16); no probe step, which
# would find that region before the write does. Sticks whose serial starts
# with HUNG (18) or VHUNG (21) get timeouts on their write (40s) and
# verify (20s) stages.
station {
  name        = "e2e"
  concurrency = 2
  receipts    = "/tmp/receipts.jsonl"
}

source "big" {
  paths = ["/content/big"]
}

profile "big" {
  match { vendor_id = ["0781"] }
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" {
    type  = "vfat"
    label = "BIG"
  }
  step "copy" { sources = [source.big] }
  step "verify" {}
}

profile "timed" {
  priority = 10
  match {
    vendor_id = ["0781"]
    serial    = ["HUNG*", "VHUNG*"]
  }
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" {
    type  = "vfat"
    label = "BIG"
  }
  step "copy" {
    sources = [source.big]
    timeout = "40s"
  }
  step "verify" { timeout = "20s" }
}
