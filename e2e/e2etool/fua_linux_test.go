package main

import "unsafe"

func unsafeSizeofSgIOHdr() uintptr { return unsafe.Sizeof(sgIOHdr{}) }
