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
