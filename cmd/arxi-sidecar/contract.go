package main

import (
	"fmt"
	"io"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sidecar/contract"
)

const contractUsage = `arxi-sidecar contract writes and checks the API's contract artifacts
(SIDECAR.md §5), generated from the code: openapi.json (OpenAPI 3.1),
schemas/*.schema.json (JSON Schema 2020-12 of every record), errors.json,
config.schema.json, sidecar.example.toml and index.json (each file's
SHA-256). The same code always generates the same bytes. Both refuse a
directory that is a symlink or holds one.

Usage:
  arxi-sidecar contract generate [--out DIR]
      write the artifacts into DIR (default docs/generated)
  arxi-sidecar contract check [--dir DIR]
      compare DIR (default docs/generated) with what the code generates;
      exit 1 naming every drifted file (missing, different, or not
      generated), 0 when none has drifted

Example:
  arxi-sidecar contract generate && git diff --stat docs/generated`

func contractCmd(args []string, stdout, stderr io.Writer) int {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	c := cli.New("arxi-sidecar contract "+sub, contractUsage, stdout, stderr)
	var dir *string
	switch sub {
	case "generate":
		dir = c.Flags.String("out", "docs/generated", "write the artifacts into this `directory`")
	case "check":
		dir = c.Flags.String("dir", "docs/generated", "check the artifacts in this `directory`")
	case "", "-h", "-help", "--help", "help":
		c.PrintUsage(stdout)
		if sub == "" {
			return c.Exit(c.UsageError("missing subcommand: generate or check"))
		}
		return 0
	default:
		return c.Exit(c.UsageError("unknown subcommand %q: want generate or check", sub))
	}
	if err := parse(c, args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) > 0 {
		return c.Exit(c.UsageError("unexpected argument %q", c.Args()[0]))
	}
	if sub == "generate" {
		files, err := contract.Write(*dir)
		if err != nil {
			return c.Exit(err)
		}
		fmt.Fprintf(stderr, "arxi-sidecar: wrote %d files into %s\n", len(files), *dir)
		return 0
	}
	drift, err := contract.Check(*dir)
	if err != nil {
		return c.Exit(err)
	}
	if len(drift) == 0 {
		return 0
	}
	for _, d := range drift {
		fmt.Fprintf(stderr, "arxi-sidecar: drift: %s: %s\n", d.Name, d.Reason)
	}
	fmt.Fprintf(stderr, "arxi-sidecar: error: %d files in %s drifted from the code\n", len(drift), *dir)
	fmt.Fprintf(stderr, "arxi-sidecar: hint: run arxi-sidecar contract generate --out %s and commit the result\n", *dir)
	return errcode.ExitInvalid
}
