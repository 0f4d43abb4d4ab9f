package main

import (
	"os"
	"os/exec"
)

// execCommand runs a binary, the test binary as arxi-sidecar included.
func execCommand(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env = append(os.Environ(), childEnv+"=1")
	return c
}
