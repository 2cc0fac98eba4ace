# The probe step's attributes and place.
profile "attributes" {
  priority = 1
  step "probe" {
    on_fake        = "ignore" # ERROR: Invalid on_fake | Choose one of: "fail", "shrink".
    min_write_mbps = -1       # ERROR: Invalid rate | min_write_mbps = -1 is out of range: a rate in MB/s (10^6 bytes per second) from 0 (no minimum) to 10000.
    min_read_mbps  = 20000000 # ERROR: Invalid rate | min_read_mbps = 2e+07 is out of range
    max_time       = "2 min"  # ERROR: Invalid duration | max_time = "2 min": use a duration from "1s" to "1h"
  }
  step "wipe" {}
}

profile "typo" {
  priority = 2
  step "probe" {
    on_fak = "fail" # ERROR: Unsupported argument | Did you mean "on_fake"?
  }
}

profile "too-long" {
  priority = 3
  step "probe" {
    max_time = "3h" # ERROR: Invalid duration
  }
}

profile "after-wipe" {
  priority = 4
  step "wipe" {}
  step "probe" {} # ERROR: Step out of order | the probe overwrites blocks all over the stick, so it comes before wipe and every step that writes.
}
