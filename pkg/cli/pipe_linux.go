package cli

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeSize is the capacity asked for the standard streams that are pipes:
// a stage of a pipeline (arxi-seal | arxi-append) then writes and reads
// a megabyte at a time instead of the kernel's default 64 KiB, and the
// stages wait on each other less. /proc/sys/fs/pipe-max-size bounds it
// (1 MiB by default); a smaller pipe is left as it is.
const pipeSize = 1 << 20

// growPipes raises the capacity of the files that are pipes (Main: stdin
// and stdout).
func growPipes(files ...*os.File) {
	for _, f := range files {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeNamedPipe != 0 {
			unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, pipeSize)
		}
	}
}
