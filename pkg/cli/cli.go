// Package cli is the plumbing every arxi-* binary shares (SPEC §13), so
// that each one behaves like the others and a new binary gets the
// conventions by using it.
//
// # A binary
//
// A binary's main is one line, and its testable entry point dispatches to
// its commands:
//
//	var program = cli.Program{Name: "arxi-x", Main: x, Subcommands: []cli.Subcommand{{Name: "keygen", Run: keygen}}}
//
//	func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
//		return program.Run(ctx, args, stdin, stdout, stderr)
//	}
//
//	func main() { cli.Main(run) }
//
// Main gives run a context that SIGINT and SIGTERM cancel and a stdin
// whose reads end when it is cancelled, and exits 130 or 143 after an
// interrupt (a second signal exits at once). Program.Run adds the help
// and version subcommands, and "did you mean" for a mistyped subcommand.
//
// # A command
//
// Each (sub)command builds a Command, registers its flags, parses, does
// its work through pkg/ and returns Command.Exit(err):
//
//	c := cli.New("arxi-x", usage, stdout, stderr)
//	out := c.Flags.String("o", "", "write to `FILE`")
//	if err := c.Parse(args); err != nil {
//		return c.Exit(err)
//	}
//	in, err := c.Input(ctx, c.Arg(0), stdin) // "-" or "" is stdin
//	...
//	return c.Exit(c.Output(ctx, *out, false, func(w io.Writer) error { … }))
//
// Parse takes flags before and after positional arguments, then ARXI_<FLAG>
// environment variables, then the --config file (one TOML file for the
// toolkit: [global] for every binary, [arxi-x] for one); the first source
// that sets a flag wins. A flag registered with CommandLineOnly is refused
// from the environment and the config file (arxi-verify --phases, which
// lowers assurance). An unknown flag gets a "did you mean" hint; -h and
// --help print the usage with --flag names; --version (or the version
// subcommand, with --json) prints the version from the build info.
//
// # Inputs, outputs, diagnostics
//
//   - Input opens a positional input or stdin, saying "reading from stdin
//     (Ctrl-D to end)" when stdin is a terminal. Files named by flags
//     (config, trust root, key, passphrase, selector, store) go through
//     pkg/safefile, which refuses FIFOs, devices and directories.
//   - Output writes -o FILE through safefile.Write (atomic replace, devices
//     written directly, directories refused) or stdout, and refuses binary
//     output on a terminal.
//   - Report (through Exit), Warn and Note write diagnostics on stderr:
//     "arxi-x: error: …" and "arxi-x: hint: …", or with --error-format json
//     one JSON object per diagnostic. They clear the progress line first.
//   - NewProgress draws one progress line on stderr in auto mode only when
//     stderr is a terminal and stdout is not a pipe (so only the last stage
//     of a pipeline draws), with a total and percentage when one is known.
//   - Table writes human tables: aligned on a terminal, tab-separated
//     otherwise; Time gives timestamps short on a terminal.
//   - PassphraseFlag reads a key's passphrase from --sign-passphrase-file,
//     ARXI_SIGN_PASSPHRASE or a terminal prompt.
//   - LimitFlags registers the record limits of SPEC §16.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
)

// Version is the toolkit's release version.
const Version = "0.1.0"

// SpecVersion is the version of the format specification implemented.
const SpecVersion = "1"

// MaxConfigFile is the size limit of a --config file (SPEC §16).
const MaxConfigFile = 1 << 20

// Exit statuses after a signal (128 + the signal's number).
const (
	ExitInterrupted = 130 // SIGINT
	ExitTerminated  = 143 // SIGTERM
)

// ErrHelp is returned by Parse after printing help or the version; Exit
// maps it to 0.
var ErrHelp = errors.New("help requested")

// Command is one binary or subcommand: its flags and how it reports.
type Command struct {
	Name   string // "arxi-seal", "arxi-seal keygen"
	Usage  string // usage text, ending with an example
	Flags  *flag.FlagSet
	Stdout io.Writer
	Stderr io.Writer

	config      string
	errorFormat string
	cliOnly     map[string]bool
	args        []string
	progress    *Progress // the line to clear before a diagnostic
}

// New returns a Command with the common flags --config and --error-format
// (and --version for top-level commands) registered.
func New(name, usage string, stdout, stderr io.Writer) *Command {
	c := &Command{Name: name, Usage: usage, Stdout: stdout, Stderr: stderr, errorFormat: "text", cliOnly: map[string]bool{}}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.config, "config", "", "read flags from this TOML `file`: [global] and ["+c.Tool()+"] tables, keys are flag names")
	fs.StringVar(&c.errorFormat, "error-format", "text", "diagnostics on stderr: `format` text or json")
	if !c.IsSubcommand() {
		fs.Bool("version", false, "print the version and exit (with --json: as JSON)")
	}
	c.Flags = fs
	return c
}

// Tool is the binary's name: the first word of Name.
func (c *Command) Tool() string { return strings.Fields(c.Name)[0] }

// IsSubcommand reports whether the command is a subcommand.
func (c *Command) IsSubcommand() bool { return strings.Contains(c.Name, " ") }

// CommandLineOnly marks flags that Parse takes from the command line only:
// set in the environment or a config file, they are refused
// (config.invalid), so a setting that lowers assurance cannot come from
// anywhere but the command that is run.
func (c *Command) CommandLineOnly(names ...string) {
	for _, n := range names {
		c.cliOnly[n] = true
	}
}

// Args returns the positional arguments (those of c.Flags.Parse, for a
// command that parses its flag set itself).
func (c *Command) Args() []string {
	if c.args == nil {
		return c.Flags.Args()
	}
	return c.args
}

// Arg returns positional argument i, or "" when there is none.
func (c *Command) Arg(i int) string {
	if args := c.Args(); i < len(args) {
		return args[i]
	}
	return ""
}

// Exit reports err on stderr and returns the exit status: 0 for nil and
// ErrHelp, 130 without a report for an interrupt (the context was
// cancelled), otherwise the status of err's code (SPEC §12).
func (c *Command) Exit(err error) int {
	c.progress.Finish()
	switch {
	case err == nil || errors.Is(err, ErrHelp):
		return errcode.ExitOK
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	}
	c.Report(err)
	return errcode.ExitStatus(err)
}

// ExitWith reports err, unless it is nil, and returns status instead of
// its code's exit status: a store that refuses a command's signing key
// before it starts (key.not_current) is a configuration error, exit 2,
// where the same code on an appended envelope is an integrity violation
// (SPEC §11.1).
func (c *Command) ExitWith(err error, status int) int {
	if err == nil {
		return c.Exit(nil)
	}
	c.Exit(err)
	return status
}

// Report writes err to stderr: "NAME: error: …" and an optional
// "NAME: hint: …" line, or one JSON object with --error-format json.
func (c *Command) Report(err error) {
	e, ok := errcode.As(err)
	if !ok {
		e = &errcode.Error{Code: errcode.CodeOf(err), Msg: err.Error()}
		if errors.Is(err, errcode.Code(e.Code)) && err.Error() == string(e.Code) {
			e.Msg = string(e.Code)
		}
	}
	c.diagnose(levelError, e)
}

// Warn writes a warning on stderr: "NAME: warning: …", or a JSON object.
func (c *Command) Warn(format string, args ...any) {
	c.diagnose(levelWarning, &errcode.Error{Msg: fmt.Sprintf(format, args...)})
}

// Note writes a notice on stderr: "NAME: …", or a JSON object.
func (c *Command) Note(format string, args ...any) {
	c.diagnose(levelInfo, &errcode.Error{Msg: fmt.Sprintf(format, args...)})
}

// JSONDiagnostics reports whether diagnostics are JSON (--error-format
// json).
func (c *Command) JSONDiagnostics() bool { return c.errorFormat == "json" }

func (c *Command) diagnose(level string, e *errcode.Error) {
	c.progress.clear()
	tool := c.Tool()
	if c.JSONDiagnostics() {
		c.Stderr.Write(append(jsonDiagnostic(tool, level, e), '\n'))
		return
	}
	switch level {
	case levelError:
		fmt.Fprintf(c.Stderr, "%s: error: %s\n", tool, e.Error())
	case levelWarning:
		fmt.Fprintf(c.Stderr, "%s: warning: %s\n", tool, e.Msg)
	default:
		fmt.Fprintf(c.Stderr, "%s: %s\n", tool, e.Msg)
	}
	if e.Hint != "" {
		fmt.Fprintf(c.Stderr, "%s: hint: %s\n", tool, e.Hint)
	}
}

// JSONError renders e as the canonical JSON object --error-format json
// writes (absent locations are null).
func JSONError(tool string, e *errcode.Error) []byte { return jsonDiagnostic(tool, levelError, e) }

// jsonDiagnostic renders one diagnostic with stable keys (DiagnosticSchema):
// every level has the same keys, absent ones null.
func jsonDiagnostic(tool, level string, e *errcode.Error) []byte {
	o := diagnostic{Level: level, Message: e.Msg, Tool: tool}
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	o.Code, o.Field, o.Hint, o.Path, o.Segment = str(string(e.Code)), str(e.Field), str(e.Hint), str(e.Path), str(e.Segment)
	if e.Err != nil {
		o.Message += ": " + e.Err.Error()
	}
	if e.Line > 0 {
		o.Line = &e.Line
	}
	if e.Sequence > 0 {
		o.Sequence = &e.Sequence
	}
	b, err := canonical.Marshal(o)
	if err != nil {
		internal := string(errcode.Internal)
		b, _ = canonical.Marshal(diagnostic{Code: &internal, Level: level, Message: "cannot encode a diagnostic", Tool: tool})
	}
	return b
}

// UsageError returns a usage.invalid error with a hint to --help.
func (c *Command) UsageError(format string, args ...any) error {
	return &errcode.Error{Code: errcode.UsageInvalid, Msg: fmt.Sprintf(format, args...), Hint: "see " + c.Name + " --help"}
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
