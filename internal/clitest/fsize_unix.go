//go:build unix

package clitest

import (
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

// LimitFileSize gives the process, a test's child, the RLIMIT_FSIZE in
// bytes that the environment variable env holds, when it is set: writes
// past it then fail with EFBIG, as on a full disk (SIGXFSZ is ignored, so
// that they fail instead of killing the process).
func LimitFileSize(env string) {
	v := os.Getenv(env)
	if v == "" {
		return
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		panic(err)
	}
	signal.Ignore(syscall.SIGXFSZ)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
		panic(err)
	}
}
