# Pools and file steps: bad pool attributes, unknown pools and columns,
# with did-you-mean, and literal paths and modes checked at load time.
pool "keys" {
  csv        = "pools/keys.csv"
  record     = "hash" # ERROR: Invalid record | use "value"
  on_failure = "burnt" # ERROR: Invalid on_failure | Did you mean "burn"?
}
pool "nofile" { # ERROR: Pool without a file | csv =
}
pool "missing" {
  csv = "pools/missing.csv" # ERROR: Cannot read the pool file | missing.csv
}
profile "p" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "file" {
    path    = "/licence.txt"
    content = pool.keys.row.kye # ERROR: Unknown column pool.keys.row.kye | Did you mean "key"? Its columns: key, owner.
  }
  step "file" {
    path    = "/b.txt"
    content = pool.key.row.key # ERROR: Reference to undeclared pool | Did you mean "keys"?
  }
  step "file" {
    path    = "../b.txt" # ERROR: Invalid path | leaves the filesystem
    content = "${device.serail}" # ERROR: Unknown attribute device.serail | Did you mean "serial"?
    mode    = "0999" # ERROR: Invalid mode | octal
  }
  step "file" { # ERROR: File without content | content_base64
    path = "/c.txt"
  }
  step "verify" {}
}
