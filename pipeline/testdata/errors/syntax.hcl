# A syntax error: the parser's diagnostic, and nothing else.
profile "a" {
  step "wipe" {
    mode = = "quick" # ERROR: Invalid expression
  }
}
