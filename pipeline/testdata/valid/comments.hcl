// Comments of every style, and an expression attribute set to null.
/* a block comment
   over lines */
profile "c" {
  match {
    serial = null # null counts as not given
  }
  step "wipe" {}
}
