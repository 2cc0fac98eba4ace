//go:build !linux

package main

import "errors"

func writeFUA(dev string) error { return errors.New("SG_IO needs Linux") }
