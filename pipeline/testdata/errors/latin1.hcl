# Latin-1 bytes (an umlaut saved by an old editor) in a UTF-8 file.
profile "a" {
  step "wipe" {
    name = "Löschen" # ERROR: Invalid character encoding | Byte 0xf6 at line 4, column 14
  }
}
