# label.hcl: scenario 11. Labels computed per job from job.seq, written by a
# separate label step, on FAT32 and on exFAT.
station {
  name        = "e2e"
  concurrency = 2
  receipts    = "/tmp/receipts.jsonl"
}

source "docs" {
  paths   = ["/content/docs"]
  exclude = ["**/*.jpg"]
}

profile "fat-numbered" {
  match { vendor_id = ["0781"] }
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.docs] }
  step "label" { label = format("FAT%03d", job.seq) }
  step "verify" {}
}

profile "exfat-numbered" {
  match { vendor_id = ["0951"] }
  step "wipe" { mode = "quick" }
  step "partition" { table = "gpt" }
  step "mkfs" { type = "exfat" }
  step "copy" { sources = [source.docs] }
  step "label" { label = upper(format("exf%03d", job.seq)) }
  step "verify" {}
}
