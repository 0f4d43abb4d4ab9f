package cli

import "golang.org/x/sys/unix"

// echoOff turns the terminal's echo off before a passphrase prompt is
// written, so that a passphrase typed as soon as the prompt shows is not
// echoed while term.ReadPassword has yet to turn echo off itself.
func echoOff(fd int) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return
	}
	t.Lflag &^= unix.ECHO
	unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
