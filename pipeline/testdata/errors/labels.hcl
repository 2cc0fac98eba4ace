# Blocks with the wrong number of labels, and unknown blocks.
profile { # ERROR: Missing name for profile
  step "wipe" {}
}

profile "a" "b" { # ERROR: Extraneous label for profile
  step "wipe" {}
}

profil "c" { # ERROR: Unsupported block type | Did you mean "profile"?
}

profile "d" {
  stpe "wipe" {} # ERROR: Unsupported block type | Did you mean "step"?
  step "wipe" {}
}

profile "" { # ERROR: Invalid profile name
  step "wipe" {}
}
