package main

import (
	"bufio"
	"context"
	"io"
	"strings"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/dg"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

const usage = `arxi-dg reads a Decision Gate runpack (a directory, or its manifest.json),
checks its integrity, and writes one unsealed envelope per runpack record
(NDJSON) on stdout, ready for arxi-seal. With --transcript it maps an MCP
tool-call transcript to mcp.request/mcp.response envelope pairs instead.

By default a runpack that fails any integrity check is rejected (exit 1)
and nothing is written; --integrity anomaly records it anyway, behind a
dg.runpack.integrity_anomaly envelope listing every failed check. Caller
payloads, evidence values and values under sensitive key names are
redacted to {"redacted":true,"sha256":…,"bytes":N} unless --redact=false;
--attach-artifacts adds the runpack's files verbatim, unredacted.

Usage:
  arxi-dg [flags] RUNPACK
  arxi-dg [flags] --transcript FILE

Example:
  arxi-dg ./runpack | arxi-seal --recorder-id dg-recorder | arxi-append --store arxi.db`

// paths is a repeatable string flag.
type paths []string

func (p *paths) String() string     { return strings.Join(*p, ",") }
func (p *paths) Set(s string) error { *p = append(*p, s); return nil }

var program = cli.Program{Name: "arxi-dg", Main: dgMain}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program.Run(ctx, args, stdin, stdout, stderr)
}

func dgMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-dg", usage, stdout, stderr)
	fs := c.Flags
	integrity := fs.String("integrity", "strict", "on a failed integrity check: strict (reject) or anomaly (record it)")
	epoch := fs.String("logical-epoch", "1970-01-01T00:00:00Z", "the `instant` (RFC 3339) DG logical time 0 maps to; logical n is n ms later")
	actor := fs.String("actor", dg.DefaultActor, "the actor_id of every envelope")
	environment := fs.String("environment", "", "the environment_id (default tenant-<tenant_id>/namespace-<namespace_id>, or "+dg.DefaultTranscriptEnvironment+" for a transcript)")
	attach := fs.Bool("attach-artifacts", false, "attach every runpack file verbatim (unredacted), so DG's root hash can be recomputed from the evidence")
	redact := fs.Bool("redact", true, "apply the default redactions (DG.md §4); --redact=false keeps payloads and secrets")
	var redactPaths paths
	fs.Var(&redactPaths, "redact-path", "also redact the values at `path` [SOURCE:]$… (repeatable), e.g. 'triggers:$.event.source_id' or '$..note'")
	maxString := fs.Int("max-string", dg.DefaultMaxString, "replace strings longer than `N` bytes by a truncated marker")
	maxRecord := fs.Int("max-record", dg.DefaultMaxRecord, "replace records whose JCS form exceeds `N` bytes by a truncated marker")
	mapping := fs.String("mapping-version", "", "fail unless the mapping contract is this `version` ("+dg.MappingVersion+")")
	transcript := fs.String("transcript", "", "map this MCP tool-call transcript `file` instead of a runpack")
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	cfg, err := config(*integrity, *epoch, *actor, *environment, *mapping, *redact, redactPaths, *maxString, *maxRecord)
	if err != nil {
		return c.Exit(err)
	}
	cfg.AttachArtifacts = *attach
	switch n := len(c.Args()); {
	case *transcript != "" && n > 0:
		return c.Exit(c.UsageError("give a runpack or --transcript, not both"))
	case *transcript == "" && n != 1:
		return c.Exit(c.UsageError("want one runpack directory or manifest.json, got %d arguments", n))
	}

	w := bufio.NewWriterSize(stdout, 256<<10)
	var line []byte
	n := 0
	emit := func(rec evidence.Record) error {
		if n++; n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return errcode.Wrap(errcode.IOFailed, err, "interrupted")
			}
		}
		line = append(rec.AppendJCS(line[:0]), '\n')
		if _, err := w.Write(line); err != nil {
			return errcode.Wrap(errcode.IOFailed, err, "write stdout")
		}
		return nil
	}
	if *transcript != "" {
		t, err := dg.ReadTranscript(*transcript)
		if err == nil {
			_, err = t.Map(cfg, emit)
		}
		return c.Exit(flush(w, err))
	}
	rp, err := dg.Read(c.Args()[0])
	if err == nil {
		_, err = rp.Map(cfg, emit)
	}
	return c.Exit(flush(w, err))
}

func flush(w *bufio.Writer, err error) error {
	if ferr := w.Flush(); ferr != nil && err == nil {
		return errcode.Wrap(errcode.IOFailed, ferr, "write stdout")
	}
	return err
}

// config validates the mapping flags.
func config(integrity, epoch, actor, environment, mapping string, redact bool, redactPaths []string, maxString, maxRecord int) (dg.Config, error) {
	var cfg dg.Config
	if mapping != "" && mapping != dg.MappingVersion {
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "mapping-version",
			Msg: "this arxi-dg implements " + dg.MappingVersion + ", not " + mapping, Hint: "use the arxi-dg release that implements " + mapping}
	}
	var err error
	if cfg.Mode, err = dg.ParseMode(integrity); err != nil {
		return cfg, errcode.InField(err, "integrity")
	}
	if cfg.LogicalEpoch, err = scalar.ParseTimestamp(epoch); err != nil {
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "logical-epoch", Msg: "invalid timestamp", Err: err}
	}
	if cfg.Actor, err = scalar.ParseLabel(actor); err != nil {
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "actor", Msg: "invalid actor id", Err: err}
	}
	if environment != "" {
		if cfg.Environment, err = scalar.ParseLabel(environment); err != nil {
			return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "environment", Msg: "invalid environment id", Err: err}
		}
	}
	if maxString <= 0 {
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "max-string", Msg: "must be at least 1"}
	}
	if maxRecord <= 0 {
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "max-record", Msg: "must be at least 1"}
	}
	cfg.Policy, err = dg.NewPolicy(dg.PolicyConfig{DisableDefaults: !redact, Paths: redactPaths, MaxString: maxString, MaxRecord: maxRecord})
	return cfg, err
}
