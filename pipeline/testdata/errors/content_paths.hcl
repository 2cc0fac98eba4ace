# Content that is not there: one error per missing path, at the path, for
# sources and for a copy step's own paths. validate --skip-content (the
# loader's SkipContent) leaves these checks out.
source "docs" {
  paths = [
    "../content/docs",
    "../content/nope", # ERROR: Content path does not exist | testdata/content/nope does not exist. A station refuses to start
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
