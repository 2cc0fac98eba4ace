//go:build !linux

package main

func unsafeSizeofSgIOHdr() uintptr { return 0 }
