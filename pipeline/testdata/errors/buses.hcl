# Buses flashpipe does not know, and a broken port glob.
station {
  allow_buses = ["usb", "scsi"] # ERROR: Unknown bus | Valid buses: usb, mmc, loop.
  ports       = ["1-1.[4"] # ERROR: Invalid glob pattern
}

profile "a" {
  match {
    bus = "usbb" # ERROR: Unknown bus | Did you mean "usb"?
  }
  step "wipe" {}
}
