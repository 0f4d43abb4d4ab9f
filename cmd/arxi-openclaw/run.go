package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/openclaw"
	"arxi.dev/arxi/pkg/redact"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/zstdio"
)

const usage = `arxi-openclaw reads a capture of OpenClaw agent runs — gateway event frames
(the default), bare agent payloads (--payloads) or a session transcript
(--transcript) — checks it whole, and writes one unsealed envelope per agent
event or transcript entry (NDJSON) on stdout, ready for arxi-seal.

The agent events of each run attempt must read seq 1, 2, 3, …: by default a
gap, a duplicate or an event out of order rejects the capture (exit 1, one
line per finding) and nothing is written; --sequence anomaly records it
anyway, behind an openclaw.sequence_anomaly envelope listing every finding.
Tool results link to their calls, and calls left without a result are
listed in an openclaw.tool.unpaired envelope (--require-paired rejects
them). Tool arguments and results, message text and values under sensitive
key names are redacted to {"redacted":true,"sha256":…,"bytes":N} unless
--redact=false. The input may be zstd-compressed; it is checked whole, into
a temporary file in $TMPDIR, before anything is written.

Usage:
  arxi-openclaw [flags] [FILE]     (stdin when FILE is absent or -)

Examples:
  arxi-openclaw capture.ndjson | arxi-seal --recorder-id oc-recorder | arxi-append --store arxi.db
  arxi-openclaw --transcript --session-key agent:main:main ~/.openclaw/agents/main/sessions/SESSION.jsonl | arxi-seal --recorder-id oc-recorder`

// paths is a repeatable string flag.
type paths []string

func (p *paths) String() string     { return strings.Join(*p, ",") }
func (p *paths) Set(s string) error { *p = append(*p, s); return nil }

// flags are the mapping flags, before validation.
type flags struct {
	payloads, transcript           bool
	sequence                       string
	frameSeq, requirePaired        bool
	actor, environment, sessionKey string
	redact                         bool
	redactPaths                    paths
	maxString, maxRecord           int
	maxInput                       int64
	mapping                        string
}

var program = cli.Program{Name: "arxi-openclaw", Main: ocMain}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program.Run(ctx, args, stdin, stdout, stderr)
}

func ocMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-openclaw", usage, stdout, stderr)
	fs := c.Flags
	var f flags
	fs.BoolVar(&f.payloads, "payloads", false, "the capture holds bare agent payloads, one per line, not gateway frames")
	fs.BoolVar(&f.transcript, "transcript", false, "the input is a session transcript (JSONL, versions 1 to 3)")
	fs.StringVar(&f.sequence, "sequence", "strict", "on a sequence or tree finding: strict (reject) or anomaly (record it)")
	fs.BoolVar(&f.frameSeq, "frame-seq", false, "also check the frames' own seq, the connection's counter")
	fs.BoolVar(&f.requirePaired, "require-paired", false, "reject a tool call without its result, or a result without its call")
	fs.StringVar(&f.actor, "actor", "", "the actor_id of every envelope (default agent:<id> from the event, else "+openclaw.DefaultActor+")")
	fs.StringVar(&f.environment, "environment", openclaw.DefaultEnvironment, "the environment_id of every envelope")
	fs.StringVar(&f.sessionKey, "session-key", "", "the session_id of a transcript's envelopes (its OpenClaw session key, e.g. agent:main:main)")
	fs.BoolVar(&f.redact, "redact", true, "apply the default redactions (OPENCLAW.md §6); --redact=false keeps tool data, text and secrets")
	fs.Var(&f.redactPaths, "redact-path", "also redact the value at this RFC 6901 `pointer` into each record (repeatable), e.g. /data/meta")
	fs.IntVar(&f.maxString, "max-string", redact.DefaultMaxString, "replace strings longer than `N` bytes by a truncated marker")
	fs.IntVar(&f.maxRecord, "max-record", redact.DefaultMaxRecord, "replace records whose JCS form exceeds `N` bytes by a truncated marker")
	fs.Int64Var(&f.maxInput, "max-input", openclaw.DefaultMaxInput, "reject a capture larger than `N` bytes")
	fs.StringVar(&f.mapping, "mapping-version", "", "fail unless the mapping contract is this `version` ("+openclaw.MappingVersion+")")
	progress := c.ProgressFlag()
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	cfg, err := f.config()
	if err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) > 1 {
		return c.Exit(c.UsageError("want at most one capture file, got %d arguments", len(c.Args())))
	}
	path := c.Arg(0)
	in, err := c.Input(ctx, path, stdin)
	if err != nil {
		return c.Exit(err)
	}
	defer in.Close()
	src := zstdio.Auto(in) // a capture may be zstd-compressed
	defer src.Close()

	p, err := c.NewProgress(*progress, "checking", "lines")
	if err != nil {
		return c.Exit(err)
	}
	cfg.Progress = p.Add
	capture, err := openclaw.Read(ctx, src, cfg)
	if err != nil {
		return c.Exit(inPath(err, path))
	}
	p.Finish()
	defer capture.Close()
	if p, err = c.NewProgress(*progress, "mapping", "records"); err != nil {
		return c.Exit(err)
	}
	p.SetTotal(int64(capture.Records))
	w := bufio.NewWriterSize(stdout, 256<<10)
	var line []byte
	_, err = capture.Map(ctx, func(rec evidence.Record) error {
		line = append(rec.AppendJCS(line[:0]), '\n')
		if _, err := w.Write(line); err != nil {
			return errcode.Wrap(errcode.IOFailed, err, "write stdout")
		}
		return nil
	})
	// Flushed even when interrupted, so that stdout ends at a line
	// boundary.
	if ferr := w.Flush(); ferr != nil && err == nil {
		err = errcode.Wrap(errcode.IOFailed, ferr, "write stdout")
	}
	p.Finish()
	if ce, ok := err.(*openclaw.CheckError); ok {
		return reportCheck(c, ce, path)
	}
	if err != nil {
		return c.Exit(err)
	}
	for _, s := range capture.Warnings() {
		c.Warn("%s", s)
	}
	if n := skipped(capture.Skipped); n != "" {
		c.Note("%s", n)
	}
	return 0
}

// reportCheck reports every problem of a refused capture, one line each,
// and returns its exit status.
func reportCheck(c *cli.Command, ce *openclaw.CheckError, path string) int {
	for i, p := range ce.Problems {
		e := *p
		if i == len(ce.Problems)-1 && ce.Omitted == 0 {
			e.Hint = hint(p.Code)
		}
		c.Report(inPath(&e, path))
	}
	if ce.Omitted > 0 {
		c.Report(inPath(&errcode.Error{Code: ce.Problems[0].Code, Msg: fmt.Sprintf("and %d more", ce.Omitted), Hint: hint(ce.Problems[0].Code)}, path))
	}
	return errcode.ExitStatus(ce)
}

// inPath names the input file in err, unless it is stdin.
func inPath(err error, path string) error {
	if path == "-" {
		return err
	}
	return errcode.WithPath(err, path)
}

func hint(code errcode.Code) string {
	if code == errcode.OpenClawUnpairedTool {
		return "without --require-paired, unpaired calls are recorded in openclaw.tool.unpaired envelopes"
	}
	return "--sequence anomaly records the capture anyway, behind an openclaw.sequence_anomaly envelope listing every finding"
}

// skipped describes the frames skipped, by kind.
func skipped(counts map[string]int) string {
	if len(counts) == 0 {
		return ""
	}
	names := make([]string, 0, len(counts))
	n := 0
	for k, v := range counts {
		names = append(names, k)
		n += v
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s: %d", k, counts[k])
	}
	s := "frames"
	if n == 1 {
		s = "frame"
	}
	return fmt.Sprintf("skipped %d %s that are not agent events (%s)", n, s, strings.Join(parts, ", "))
}

// config validates the mapping flags.
func (f *flags) config() (openclaw.Config, error) {
	var cfg openclaw.Config
	if f.mapping != "" && f.mapping != openclaw.MappingVersion {
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "mapping-version",
			Msg: "this arxi-openclaw implements " + openclaw.MappingVersion + ", not " + f.mapping, Hint: "use the arxi-openclaw release that implements " + f.mapping}
	}
	switch {
	case f.payloads && f.transcript:
		return cfg, &errcode.Error{Code: errcode.UsageInvalid, Msg: "--payloads and --transcript exclude each other", Hint: "see arxi-openclaw --help"}
	case f.payloads:
		cfg.Format = openclaw.Payloads
	case f.transcript:
		cfg.Format = openclaw.Transcript
	}
	var err error
	if cfg.Sequence, err = openclaw.ParseMode(f.sequence); err != nil {
		return cfg, errcode.InField(err, "sequence")
	}
	if f.frameSeq && cfg.Format != openclaw.Frames {
		return cfg, &errcode.Error{Code: errcode.UsageInvalid, Msg: "--frame-seq checks gateway frames, not bare payloads or transcripts"}
	}
	if f.sessionKey != "" && cfg.Format != openclaw.Transcript {
		return cfg, &errcode.Error{Code: errcode.UsageInvalid, Msg: "--session-key names a transcript's session; frames and payloads carry their own"}
	}
	cfg.FrameSeq, cfg.RequirePaired = f.frameSeq, f.requirePaired
	for _, l := range []struct {
		flag, val string
		dst       *scalar.Label
	}{{"actor", f.actor, &cfg.Actor}, {"environment", f.environment, &cfg.Environment}, {"session-key", f.sessionKey, &cfg.SessionKey}} {
		if l.val == "" {
			continue
		}
		if *l.dst, err = scalar.ParseLabel(l.val); err != nil {
			return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: l.flag, Msg: "invalid " + l.flag, Err: err}
		}
	}
	if f.maxString <= 0 {
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "max-string", Msg: "must be at least 1"}
	}
	if f.maxRecord <= 0 {
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "max-record", Msg: "must be at least 1"}
	}
	if f.maxInput <= 0 {
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "max-input", Msg: "must be at least 1"}
	}
	cfg.MaxInput = f.maxInput
	cfg.Policy, err = openclaw.NewPolicy(openclaw.PolicyConfig{DisableDefaults: !f.redact, Paths: f.redactPaths, MaxString: f.maxString, MaxRecord: f.maxRecord})
	return cfg, err
}
