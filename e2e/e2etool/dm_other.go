//go:build !linux

package main

import "errors"

func dmCall(cmd uint, name string, flags uint32, targets []dmTarget) ([]byte, error) {
	return nil, errors.New("device-mapper needs Linux")
}
