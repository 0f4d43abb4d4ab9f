// Package cli is the plumbing every arxi-* binary shares (SPEC §13): flag
// sets parsed by github.com/peterbourgon/ff/v3 with ARXI_ environment
// variables and a TOML --config file, error reporting on stderr in text or
// JSON, --version, and progress on a terminal.
//
// A binary's main is a few lines around
//
//	func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
//
// which builds a Command per (sub)command, parses, does its work through
// pkg/, and returns Command.Exit(err).
package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/fftoml"
)

// Version is the toolkit's version.
const Version = "0.1.0"

// SpecVersion is the version of the format specification implemented.
const SpecVersion = "1"

// MaxConfigFile is the size limit of a --config file (SPEC §16).
const MaxConfigFile = 1 << 20

// ErrHelp is returned by Parse after printing help; Exit maps it to 0.
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
	version     bool
}

// New returns a Command with the common flags --config and --error-format
// (and --version for top-level commands) registered.
func New(name, usage string, stdout, stderr io.Writer) *Command {
	c := &Command{Name: name, Usage: usage, Stdout: stdout, Stderr: stderr}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.config, "config", "", "read flags from this TOML `file` (keys are flag names)")
	fs.StringVar(&c.errorFormat, "error-format", "text", "error output on stderr: text or json")
	if !strings.Contains(name, " ") {
		fs.BoolVar(&c.version, "version", false, "print the version and exit")
	}
	c.Flags = fs
	return c
}

// Parse parses args, then ARXI_* environment variables, then the --config
// file. It prints usage and returns ErrHelp for -h/--help, prints the
// version and returns ErrHelp for --version, and returns usage.invalid or
// config.invalid errors.
func (c *Command) Parse(args []string) error {
	if c.Flags.Lookup("version") != nil && (slices.Contains(args, "--version") || slices.Contains(args, "-version")) {
		fmt.Fprintf(c.Stdout, "%s %s (Arxi spec v%s)\n", c.Name, Version, SpecVersion)
		return ErrHelp
	}
	err := ff.Parse(c.Flags, args,
		ff.WithEnvVarPrefix("ARXI"),
		ff.WithConfigFileFlag("config"),
		ff.WithConfigFileParser(limitedTOML),
	)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.PrintUsage(c.Stdout)
		return ErrHelp
	case err == nil:
	case errors.As(err, new(*fs.PathError)):
		return &errcode.Error{Code: errcode.ConfigInvalid, Path: c.config, Msg: "read config file", Err: unwrapPathErr(err)}
	case strings.Contains(err.Error(), "config file"), strings.Contains(err.Error(), "TOML"):
		return &errcode.Error{Code: errcode.ConfigInvalid, Path: c.config, Msg: cleanFFError(err)}
	case strings.Contains(err.Error(), "environment variable"):
		return &errcode.Error{Code: errcode.ConfigInvalid, Msg: cleanFFError(err)}
	default:
		return &errcode.Error{Code: errcode.UsageInvalid, Msg: cleanFFError(err), Hint: "see " + c.Name + " --help"}
	}
	if c.errorFormat != "text" && c.errorFormat != "json" {
		f := c.errorFormat
		c.errorFormat = "text"
		return &errcode.Error{Code: errcode.UsageInvalid, Msg: fmt.Sprintf("--error-format %q: want text or json", f)}
	}
	return nil
}

func cleanFFError(err error) string {
	s := err.Error()
	for _, p := range []string{"error parsing commandline arguments: ", "error parsing config file: ", "error parsing environment variables: ", "error parsing TOML config: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// limitedTOML parses a TOML config file of at most MaxConfigFile bytes.
func limitedTOML(r io.Reader, set func(name, value string) error) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigFile+1))
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	if len(data) > MaxConfigFile {
		return fmt.Errorf("config file exceeds %d bytes", MaxConfigFile)
	}
	return fftoml.Parser(bytes.NewReader(data), set)
}

// PrintUsage writes the usage text and the flags.
func (c *Command) PrintUsage(w io.Writer) {
	fmt.Fprintln(w, strings.TrimRight(c.Usage, "\n"))
	fmt.Fprintln(w, "\nFlags (each also read from ARXI_<NAME> and the --config file):")
	c.Flags.SetOutput(w)
	c.Flags.PrintDefaults()
	c.Flags.SetOutput(io.Discard)
}

// Args returns the positional arguments.
func (c *Command) Args() []string { return c.Flags.Args() }

// Exit reports err on stderr and returns the exit status: 0 for nil and
// ErrHelp, otherwise the status of err's code (SPEC §12).
func (c *Command) Exit(err error) int {
	if err == nil || errors.Is(err, ErrHelp) {
		return errcode.ExitOK
	}
	c.Report(err)
	return errcode.ExitStatus(err)
}

// Report writes err to stderr: "NAME: error: …" and an optional
// "NAME: hint: …" line, or one JSON object with --error-format json.
func (c *Command) Report(err error) {
	tool := strings.Fields(c.Name)[0]
	e, ok := errcode.As(err)
	if !ok {
		e = &errcode.Error{Code: errcode.CodeOf(err), Msg: err.Error()}
		if errors.Is(err, errcode.Code(e.Code)) && err.Error() == string(e.Code) {
			e.Msg = string(e.Code)
		}
	}
	if c.errorFormat == "json" {
		c.Stderr.Write(append(JSONError(tool, e), '\n'))
		return
	}
	fmt.Fprintf(c.Stderr, "%s: error: %s\n", tool, e.Error())
	if e.Hint != "" {
		fmt.Fprintf(c.Stderr, "%s: hint: %s\n", tool, e.Hint)
	}
}

// JSONError renders e as one canonical JSON object with stable keys
// (absent locations are null).
func JSONError(tool string, e *errcode.Error) []byte {
	type obj struct {
		Code     string  `json:"code"`
		Field    *string `json:"field"`
		Hint     *string `json:"hint"`
		Line     *int64  `json:"line"`
		Message  string  `json:"message"`
		Path     *string `json:"path"`
		Segment  *string `json:"segment_id"`
		Sequence *uint64 `json:"sequence"`
		Tool     string  `json:"tool"`
	}
	o := obj{Code: string(e.Code), Message: e.Msg, Tool: tool}
	if e.Err != nil {
		o.Message += ": " + e.Err.Error()
	}
	if e.Field != "" {
		o.Field = &e.Field
	}
	if e.Hint != "" {
		o.Hint = &e.Hint
	}
	if e.Line > 0 {
		o.Line = &e.Line
	}
	if e.Path != "" {
		o.Path = &e.Path
	}
	if e.Segment != "" {
		o.Segment = &e.Segment
	}
	if e.Sequence > 0 {
		o.Sequence = &e.Sequence
	}
	b, err := canonical.Marshal(o)
	if err != nil {
		return []byte(`{"code":"internal","message":"cannot encode error"}`)
	}
	return b
}

// UsageError returns a usage.invalid error with a hint to --help.
func (c *Command) UsageError(format string, args ...any) error {
	return &errcode.Error{Code: errcode.UsageInvalid, Msg: fmt.Sprintf(format, args...), Hint: "see " + c.Name + " --help"}
}

// OpenInput opens a positional input: "-" or "" is stdin.
func OpenInput(path string, stdin io.Reader) (io.ReadCloser, error) {
	if path == "" || path == "-" {
		return io.NopCloser(stdin), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "open input", Err: unwrapPathErr(err)}
	}
	return f, nil
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
