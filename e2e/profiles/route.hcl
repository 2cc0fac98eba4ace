# route.hcl: scenarios 1-3. SanDisk sticks get the docs set on FAT32/MBR;
# whatever sits on bus 3's port gets the media set on exFAT/GPT. No eject,
# so the guest can read the sticks back afterwards.
station {
  name        = "e2e"
  concurrency = 3
  receipts    = "/tmp/receipts.jsonl"
}

source "docs" {
  paths   = ["/content/docs"]
  exclude = ["**/*.jpg"]
}

source "media" {
  paths = ["/content/media"]
}

profile "docs" {
  priority = 10
  match {
    vendor_id = ["0781"]
    size      = "16MiB..4GiB"
  }
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" {
    type  = "vfat"
    label = "DOCS"
  }
  step "copy" { sources = [source.docs] }
  step "verify" {}
}

profile "media" {
  priority = 5
  match { port = "3-1*" }
  step "wipe" { mode = "quick" }
  step "partition" { table = "gpt" }
  step "mkfs" {
    type  = "exfat"
    label = "MEDIA"
  }
  step "copy" { sources = [source.media] }
  step "verify" {}
}
