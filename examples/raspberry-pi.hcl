# Raspberry Pi classroom sticks: each stick gets Raspberry Pi OS and, in
# its boot partition, what the Pi reads at first boot — an ssh file
# (enables SSH), userconf.txt (the user and its password hash),
# firstrun.sh (names the Pi after its stick) and a wpa_supplicant.conf
# with the stick's own Wi-Fi network from a pool. Nothing is mounted: the
# files go into the image's FAT partition as the sectors that change, in
# the same write as the image, and verify reads them back with it.
#
# raspberry-pi/pi-sample.img.xz is a 48 MiB stand-in for a Raspberry Pi
# OS image (partition 1 FAT32 "bootfs" with config.txt and cmdline.txt,
# partition 2 ext4 "rootfs"), made with sfdisk, mkfs.fat -F 32, mcopy
# and mke2fs; its block map beside it is bmaptool's. Point source at
# the real image (e.g. 2025-05-13-raspios-bookworm-arm64-lite.img.xz).
#
#   flashpipe validate examples/station.hcl examples/raspberry-pi.hcl
#   flashpipe pool status examples/station.hcl examples/raspberry-pi.hcl

pool "wifi" {
  csv        = "raspberry-pi/wifi.csv"
  on_failure = "burn" # a network that reached a failed stick is not handed out again
  warn_below = 1
}

# Transcend sticks are the Pi sticks.
profile "raspberry-pi" {
  priority = 30

  match {
    vendor_id = "8564"
  }

  step "image" {
    source = "raspberry-pi/pi-sample.img.xz"
    bmap   = "auto"
  }
  step "file" {
    path      = "ssh"
    content   = ""
    partition = 1
  }
  step "file" {
    path      = "userconf.txt"
    content   = "pi:$6$flashpipe$JH8xZ1W5k3aX0Yf9Q2xD1u0b8mQpJvYh3i2s7cR4tL6nE9wK5zO1aB3dF7gH2jM4pS6uV8yC0eT5rN7qW9xZ/\n"
    partition = 1
  }
  step "file" {
    path      = "firstrun.sh"
    content   = templatefile("raspberry-pi/firstrun.tmpl", { hostname = format("pi-%04d", job.seq) })
    mode      = "0755"
    partition = 1
  }
  step "file" {
    path      = "wpa_supplicant.conf"
    content   = templatefile("raspberry-pi/wpa_supplicant.tmpl", { ssid = pool.wifi.row.ssid, psk = pool.wifi.row.psk })
    partition = 1
  }
  step "verify" {}
  step "eject" {}
}
