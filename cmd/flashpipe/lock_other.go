//go:build !unix

package main

// stationLockPath has no meaning on this system.
func stationLockPath() string { return "" }

// lockStation does nothing on this system, where the station does not run.
func lockStation(path, receipts string) (func(), error) { return func() {}, nil }
