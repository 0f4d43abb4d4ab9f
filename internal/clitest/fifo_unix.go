//go:build unix

package clitest

import "syscall"

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }

// setUmask sets the umask scripts assume, 0022.
func setUmask() { syscall.Umask(0o022) }
