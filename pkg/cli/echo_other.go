//go:build !linux

package cli

// echoOff does nothing here: term.ReadPassword turns echo off once it
// starts reading.
func echoOff(int) {}
