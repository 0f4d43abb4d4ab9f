package cli

import (
	"context"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/errcode"
)

// Program is a binary: its main command and its subcommands.
type Program struct {
	Name        string // "arxi-seal"
	Main        RunFunc
	Subcommands []Subcommand
}

// Subcommand is a named subcommand; Run gets the arguments after its name.
type Subcommand struct {
	Name string
	Run  RunFunc
}

// Run dispatches args: "help [SUBCOMMAND]" prints usage, "version
// [--json]" the version, a subcommand's name runs it, and anything else
// goes to the main command, except a word that is not a file and is one
// typo away from a subcommand's name, which is a usage error saying which
// one was meant.
func (p *Program) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return p.Main(ctx, args, stdin, stdout, stderr)
	}
	names := []string{"help", "version"}
	for _, s := range p.Subcommands {
		if s.Name == args[0] {
			return s.Run(ctx, args[1:], stdin, stdout, stderr)
		}
		names = append(names, s.Name)
	}
	c := New(p.Name, "", stdout, stderr)
	c.errorFormat = earlyErrorFormat(args)
	switch args[0] {
	case "version":
		for _, a := range args[1:] {
			if a != "--json" && a != "-json" {
				return c.Exit(c.UsageError("%s version takes only --json", p.Name))
			}
		}
		return c.Exit(c.printVersion(len(args) > 1))
	case "help":
		switch {
		case len(args) == 1:
			return p.Main(ctx, []string{"--help"}, stdin, stdout, stderr)
		case len(args) > 2:
			return c.Exit(c.UsageError("%s help takes one subcommand", p.Name))
		}
		for _, s := range p.Subcommands {
			if s.Name == args[1] {
				return s.Run(ctx, []string{"--help"}, stdin, stdout, stderr)
			}
		}
		return c.Exit(p.unknown(c, args[1], names))
	}
	if w := args[0]; !strings.HasPrefix(w, "-") && Suggest(w, names) != "" && !exists(w) {
		return c.Exit(p.unknown(c, w, names))
	}
	return p.Main(ctx, args, stdin, stdout, stderr)
}

func (p *Program) unknown(c *Command, word string, names []string) error {
	slices.Sort(names)
	hint := "subcommands: " + strings.Join(names, ", ")
	if s := Suggest(word, names); s != "" {
		hint = "did you mean " + p.Name + " " + s + "?"
	}
	return &errcode.Error{Code: errcode.UsageInvalid, Msg: "unknown subcommand " + strconv.Quote(word), Hint: hint}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
