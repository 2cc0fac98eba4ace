# Licence keys: each stick gets the installer, its own key from a pool
# and a README naming its serial. No key ever goes to two sticks, even
# when the station is killed mid-write: the pool's journal beside the
# receipts says where each key went.
#
#   flashpipe pool status examples/station.hcl examples/licences.hcl
#   flashpipe report --find ACME-7Q2M-K9XW-4TRB receipts.jsonl

pool "licences" {
  csv        = "licences/keys.csv"
  on_failure = "burn"   # a key that reached a failed stick is spent
  record     = "sha256" # receipts keep a hash: report --find still finds the stick
  warn_below = 2
}

source "installer" {
  paths = ["content/acme"]
}

# Verbatim sticks (Silicon Motion controllers) are the licence sticks.
profile "licensed" {
  priority = 25

  match {
    vendor_id = "090c"
  }

  step "wipe" {}
  step "partition" {
    table = "mbr"
  }
  step "mkfs" {
    type  = "vfat"
    label = "ACME"
  }
  step "copy" {
    sources = [source.installer]
  }
  step "file" {
    path    = "/licence.txt"
    content = "${pool.licences.row.key}\n"
    mode    = "0444"
  }
  step "file" {
    path    = "/README.txt"
    content = templatefile("licences/readme.tmpl", { edition = pool.licences.row.edition })
  }
  step "verify" {}
  step "eject" {}
}
