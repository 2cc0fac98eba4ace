# Labels that cannot be written, caught before any stick arrives: those
# that do not depend on the stick, and those that do, evaluated for job
# numbers up to 999999, a typical USB stick and one that reports nothing.
variable "event" {
  default = "EXPO-HALL-A-2026"
}

profile "a" {
  priority = 1
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = "TWELVE_CHARS" # ERROR: Invalid volume label | "TWELVE_CHARS" is 12 characters long; a FAT label holds at most 11
  }
  step "verify" {}
}

profile "b" {
  priority = 2
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "label" {
    label = upper(var.event) # ERROR: Invalid volume label | at most 11
  }
  step "verify" {}
}

profile "c" {
  priority = 3
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = "A/B" # ERROR: Invalid volume label | contains '/'; a FAT label holds printable ASCII except " * + , . / : ; < = > ? [ \ ] |
  }
  step "verify" {}
}

profile "d" {
  priority = 4
  step "partition" {}
  step "mkfs" {
    type  = "ext4"
    label = "seventeen-bytes-x" # ERROR: Invalid volume label | 17 bytes long; ext4 allows 16
  }
  step "verify" {}
}

profile "e" {
  priority = 5
  step "partition" {}
  step "mkfs" {
    type  = "exfat"
    label = "Ausstellung 26" # ERROR: Invalid volume label | 14 UTF-16 units long; exFAT allows 11
  }
  step "verify" {}
}

# Too long from the first job on, for every stick.
profile "f" {
  priority = 6
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = "${var.event}-${job.seq}" # ERROR: Invalid volume label | With job.seq = 1: fat: volume label "EXPO-HALL-A-2026-1" is 18 characters long
  }
  step "verify" {}
}

# Fits until the station's 1000th stick.
profile "g" {
  priority = 7
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "label" {
    label = format("EXPOHALL%03d", job.seq) # WARNING: Volume label fails on some sticks | With job.seq = 1000: fat: volume label "EXPOHALL1000" is 12 characters long
  }
  step "verify" {}
}

# Between two probed job numbers: the first one that fails is named.
profile "h" {
  priority = 8
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "label" {
    label = format("EXPOHALL%d", job.seq + 5) # WARNING: Volume label fails on some sticks | With job.seq = 995:
  }
  step "verify" {}
}

# Serial numbers are longer than a FAT label for most sticks.
profile "i" {
  priority = 9
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = device.serial # WARNING: Volume label fails on some sticks | With device.serial = "4C530001230815108352": fat: volume label
  }
  step "verify" {}
}

# Fails for a stick with a serial (too long) and one without ("/" alone).
profile "j" {
  priority = 10
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = "${device.serial}/" # ERROR: Invalid volume label | No stick could be written.
  }
  step "verify" {}
}

# A stick that reports no port has no second part to take.
profile "k" {
  priority = 11
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = format("P%s", replace(split("-", device.port)[1], ".", "_")) # WARNING: Volume label fails on some sticks | With device.port = "": the label cannot be evaluated: Invalid index
  }
  step "verify" {}
}

# Long weekday names do not fit.
profile "l" {
  priority = 12
  step "partition" {}
  step "mkfs" {
    type  = "exfat"
    label = formatdate("EEEE D", now) # WARNING: Volume label fails on some sticks | With now = "2026-12-30T23:59:59Z": exfat: volume label "Wednesday 30"
  }
  step "verify" {}
}

# Fine for every job number, stick and time checked.
profile "m" {
  priority = 13
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = upper(format("%s%s%06d", substr(device.serial, 0, 2), formatdate("MM", now), job.seq))
  }
  step "verify" {}
}

# Job numbers are checked up to 999999: six digits fit, seven would not.
profile "n" {
  priority = 14
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "label" {
    label = format("EXPOHA%d", job.seq) # WARNING: Volume label fails on some sticks | With job.seq = 100000:
  }
  step "verify" {}
}

profile "o" {
  priority = 15
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "label" {
    label = format("EXPOH%d", job.seq)
  }
  step "verify" {}
}

# The rules are the filesystem builders' own: exFAT forbids some characters
# too, not only long labels.
profile "p" {
  priority = 16
  step "partition" {}
  step "mkfs" {
    type  = "exfat"
    label = "A/B" # ERROR: Invalid volume label | label contains '/'; exFAT forbids " * / : < > ? \ |
  }
  step "verify" {}
}
