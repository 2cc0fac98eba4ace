# perstick.hcl: scenario 14. Each stick takes a licence key from a pool
# and gets a README naming its own serial, from a template.
station {
  name        = "e2e"
  concurrency = 3
  receipts    = "/tmp/receipts.jsonl"
}

pool "keys" {
  csv    = "perstick-keys.csv"
  record = "value"
}

source "docs" {
  paths   = ["/content/docs"]
  exclude = ["**/*.jpg"]
}

profile "keyed" {
  match { vendor_id = ["0781", "0951"] }
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" {
    sources     = [source.docs]
    destination = "/docs"
  }
  step "file" {
    path    = "/licence.txt"
    content = "${pool.keys.row.key}\n"
  }
  step "file" {
    path    = "/README.txt"
    content = templatefile("perstick-readme.tmpl", { event = "E2E" })
  }
  step "verify" {}
}
