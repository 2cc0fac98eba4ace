# Durations time.ParseDuration cannot read.
station {
  grace = "2 minutes" # ERROR: Invalid duration | "90s"
}

profile "a" {
  priority = 1
  step "wipe" {
    timeout = "soon" # ERROR: Invalid duration
  }
  step "partition" {
    timeout = "-5s" # ERROR: Invalid duration | positive
  }
  step "mkfs" {
    type    = "vfat"
    retries = -1 # ERROR: Invalid retries
  }
}

profile "b" {
  priority       = 2
  min_write_mbps = -1 # ERROR: Invalid minimum write rate
  step "wipe" {}
}

profile "c" {
  priority       = 3
  min_write_mbps = "fast" # ERROR: Incorrect attribute value type | "min_write_mbps"
  step "wipe" {}
}
