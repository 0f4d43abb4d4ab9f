package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// PrintUsage writes the usage text, then the flags as --name, with their
// defaults and where else they are read from.
func (c *Command) PrintUsage(w io.Writer) {
	fmt.Fprintln(w, strings.TrimRight(c.Usage, "\n"))
	fmt.Fprintln(w, "\nFlags (a flag may also come after a file name):")
	c.Flags.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  " + Dashed(f.Name)
		if name != "" {
			line += " " + name
		}
		fmt.Fprintln(w, line)
		switch d := f.DefValue; {
		case isZeroDefault(f):
		case strings.ContainsAny(d, " \"\t"):
			usage += fmt.Sprintf(" (default %q)", d)
		default:
			usage += " (default " + d + ")"
		}
		if c.cliOnly[f.Name] {
			usage += " [command line only]"
		}
		fmt.Fprintln(w, "    \t"+strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
	fmt.Fprintf(w, "\nEach flag is read from, in this order: the command line; the environment, as\n"+
		"%s (--max-line-bytes is %s); the --config file's [%s]\n"+
		"table, then its [global] table; the default.\n", EnvName("NAME"), EnvName("max-line-bytes"), c.Tool())
	if !c.IsSubcommand() {
		fmt.Fprintf(w, "\n%s help [SUBCOMMAND] and %s version [--json] work as --help and --version.\n", c.Tool(), c.Tool())
	}
}

// Dashed writes a flag's name as it is typed: -o for a one-letter name,
// --name otherwise.
func Dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// isZeroDefault reports whether a flag's default is not worth printing.
func isZeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "false", "0", "[]", "0s":
		return true
	}
	return false
}
