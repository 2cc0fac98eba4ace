# Labels for one partition of an image, checked at load time where the
# image shows them. images/two-partitions.img.gz is a 1 MiB disk whose MBR
# lists a FAT12 partition (1, 56 KiB at sector 8) and an unformatted one
# (2, at sector 120), both inside the first 64 KiB, which validate reads
# of a compressed image. It was made with:
#   mkfs.fat -C fat.img 56; truncate -s 1M disk.img
#   printf 'label: dos\nstart=8, size=112, type=1\nstart=120, size=1000, type=83\n' | sfdisk -q disk.img
#   dd if=fat.img of=disk.img bs=512 seek=8 conv=notrunc; gzip -9 disk.img

profile "a" {
  priority = 1
  step "image" {
    source          = "images/two-partitions.img.gz"
    label           = "TWELVE_CHARS" # ERROR: Invalid volume label | "TWELVE_CHARS" is 12 characters long; a FAT label holds at most 11
    label_partition = 1
  }
  step "verify" {}
}

profile "b" {
  priority = 2
  step "image" {
    source          = "images/two-partitions.img.gz"
    label           = "X"
    label_partition = 2 # ERROR: Partition cannot be labelled | partition 2 holds no filesystem flashpipe knows (is it formatted?)
  }
  step "verify" {}
}

profile "c" {
  priority = 3
  step "image" {
    source          = "images/two-partitions.img.gz"
    label           = "X"
    label_partition = 3 # ERROR: No such partition | the image has no partition 3; its MBR partition table lists partitions 1 (57344 bytes at byte 4096, type 0x01), 2 (512000 bytes at byte 61440, type 0x83).
  }
  step "verify" {}
}

# Fits until the station's 100000th stick.
profile "d" {
  priority = 4
  step "image" {
    source          = "images/two-partitions.img.gz"
    label           = format("STICK-%d", job.seq) # WARNING: Volume label fails on some sticks | With job.seq = 100000: fat: volume label "STICK-100000" is 12 characters long
    label_partition = 1
  }
  step "verify" {}
}

profile "e" {
  priority = 5
  step "image" {
    source = "images/two-partitions.img.gz"
    label  = "X" # ERROR: Missing label_partition | add label_partition
  }
  step "verify" {}
}

profile "f" {
  priority = 6
  step "image" {
    source = "images/two-partitions.img.gz"
  }
  step "label" { # ERROR: Step "label" cannot be combined with step "image" | write label and label_partition in step "image" instead
    label = "X"
  }
  step "verify" {}
}
