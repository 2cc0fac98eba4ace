# Content that is not there: one error per missing path, at the path, for
# sources and for a copy step's own paths. A device (or a FIFO, or a socket)
# is not content: /dev/zero would be read forever. validate --skip-content (the
# loader's SkipContent) leaves these checks out.
source "docs" {
  paths = [
    "../content/docs",
    "../content/nope", # ERROR: Content path does not exist | testdata/content/nope does not exist. A station refuses to start
    "/dev/zero", # ERROR: Content path is not a file or directory | /dev/zero is a character device; a content path must name a regular file or a directory
  ]
}

profile "p" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" {
    sources = [source.docs]
    paths   = ["../content/docs/a.txt", "../content/missing.txt"] # ERROR: Content path does not exist | missing.txt does not exist
  }
  step "verify" {}
}
