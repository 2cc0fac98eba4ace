//go:build !linux

package uevent

import "errors"

// Listener receives kernel uevents. It exists only on Linux.
type Listener struct{}

var errNotLinux = errors.New("uevent: kernel uevents need Linux; on other systems run the station with a polling rescan instead")

// Listen fails: kernel uevents need Linux.
func Listen() (*Listener, error) { return nil, errNotLinux }

// Events returns nil.
func (l *Listener) Events() <-chan Event { return nil }

// Err returns the reason Listen fails.
func (l *Listener) Err() error { return errNotLinux }

// Dropped returns 0.
func (l *Listener) Dropped() uint64 { return 0 }

// Overflows returns 0.
func (l *Listener) Overflows() uint64 { return 0 }

// Close does nothing.
func (l *Listener) Close() error { return nil }
