# Buses flashpipe does not know.
station {
  allow_buses = ["usb", "scsi"] # ERROR: Unknown bus | Valid buses: usb, mmc, loop.
}

profile "a" {
  match {
    bus = "usbb" # ERROR: Unknown bus | Did you mean "usb"?
  }
  step "wipe" {}
}
