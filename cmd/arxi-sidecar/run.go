package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sidecar"
	"arxi.dev/arxi/pkg/sidecar/config"
)

const usage = `arxi-sidecar runs the Arxi recorder as a local HTTP/JSON service on a Unix
socket or TCP (SIDECAR.md): the stages of the filters (seal, append, query,
bundle, verify) in one process, every request untrusted, every envelope
durable before its response. The configuration is a TOML file, checked whole
before any listener is bound. SIGTERM or SIGINT shut it down cleanly (exit 0).

Usage:
  arxi-sidecar --config FILE                  run the sidecar
  arxi-sidecar config validate --config FILE  check a configuration, print it effective
  arxi-sidecar config example                 print a commented configuration that validates
  arxi-sidecar healthcheck (--url URL | --unix-socket PATH [--path P])
                                              exit 0 if the probe answers 200, 1 otherwise
  arxi-sidecar contract (generate [--out DIR] | check [--dir DIR])
                                              write or check the API's contract artifacts

Example:
  arxi-sidecar config example > sidecar.toml && arxi-sidecar --config sidecar.toml`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "config":
			return configCmd(args[1:], stdout, stderr)
		case "healthcheck":
			return healthcheck(ctx, args[1:], stdout, stderr)
		case "contract":
			return contractCmd(args[1:], stdout, stderr)
		}
	}
	c := cli.New("arxi-sidecar", usage, stdout, stderr)
	if err := parse(c, args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) > 0 {
		return c.Exit(c.UsageError("unexpected argument %q", c.Args()[0]))
	}
	path := c.Flags.Lookup("config").Value.String()
	if path == "" {
		return c.Exit(c.UsageError("give --config FILE (arxi-sidecar config example prints one)"))
	}
	cfg, err := config.Load(path)
	if err != nil {
		return c.Exit(err)
	}
	log := logger(cfg, stderr)
	cli.TuneGC(memoryLimit)
	if err := sidecar.Run(ctx, cfg, sidecar.Options{Logger: log}); err != nil {
		if errors.Is(err, errcode.KeyNotCurrent) {
			return c.ExitWith(err, errcode.ExitUsage) // the store refuses the signing key: configuration (SPEC §11.1)
		}
		return c.Exit(err)
	}
	return 0
}

// memoryLimit is the daemon's soft memory limit. At the filters' GOGC
// (cli.GCPercent) the collector runs a quarter as often as at the
// default, which takes a tenth of a single envelope's CPU off; the limit
// makes it collect sooner again when the heap nears 160 MiB, so that a
// flood of large batches peaks lower than it does with the default
// (docs/sidecar.md, Performance).
const memoryLimit = 160 << 20

// parse parses the command line only. The sidecar's --config names its
// own TOML file (SIDECAR.md §1), not a file of flags, so flags come from
// the command line alone.
func parse(c *cli.Command, args []string) error {
	if c.Flags.Lookup("version") != nil && (slices.Contains(args, "--version") || slices.Contains(args, "-version")) {
		fmt.Fprintf(c.Stdout, "%s %s (Arxi spec v%s)\n", c.Name, cli.Version, cli.SpecVersion)
		return cli.ErrHelp
	}
	err := c.Flags.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.PrintUsage(c.Stdout)
		return cli.ErrHelp
	case err != nil:
		return c.UsageError("%v", err)
	}
	if f := c.Flags.Lookup("error-format").Value.String(); f != "text" && f != "json" {
		c.Flags.Set("error-format", "text")
		return c.UsageError("--error-format %q: want text or json", f)
	}
	return nil
}

// logger is the log on stderr the configuration asks for.
func logger(cfg *config.Config, stderr io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(stderr, opts))
}

const configUsage = `arxi-sidecar config checks and explains configurations.

Usage:
  arxi-sidecar config validate --config FILE
      run every check the sidecar runs at startup (keys, types, ranges,
      unsafe combinations, the token, key and trust-root files) and print
      the effective configuration as JSON, defaults filled in, the paths
      of secret files redacted; exit 2 and name the key when it is invalid
  arxi-sidecar config example
      print a commented configuration that validates as it is

Example:
  arxi-sidecar config validate --config /etc/arxi/sidecar.toml`

func configCmd(args []string, stdout, stderr io.Writer) int {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	c := cli.New("arxi-sidecar config "+sub, configUsage, stdout, stderr)
	switch sub {
	case "validate", "example":
	case "", "-h", "-help", "--help", "help":
		c.PrintUsage(stdout)
		if sub == "" {
			return c.Exit(c.UsageError("missing subcommand: validate or example"))
		}
		return 0
	default:
		return c.Exit(c.UsageError("unknown subcommand %q: want validate or example", sub))
	}
	if err := parse(c, args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) > 0 {
		return c.Exit(c.UsageError("unexpected argument %q", c.Args()[0]))
	}
	if sub == "example" {
		if _, err := io.WriteString(stdout, config.Example); err != nil {
			return c.Exit(err)
		}
		return 0
	}
	path := c.Flags.Lookup("config").Value.String()
	if path == "" {
		return c.Exit(c.UsageError("give --config FILE"))
	}
	cfg, err := config.Load(path)
	if err != nil {
		return c.Exit(err)
	}
	if _, err := stdout.Write(append(cfg.Effective(false), '\n')); err != nil {
		return c.Exit(err)
	}
	return 0
}
