# big.hcl: scenarios 4 and 16. 64 MiB of content, so a write under TCG lasts long
# enough to pull the stick in the middle of it (4), and a bad region in
# the middle of a stick lies under the big file (16); no probe step, which
# would find that region before the write does.
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
