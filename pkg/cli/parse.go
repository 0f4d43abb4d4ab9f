package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/safefile"
	"github.com/pelletier/go-toml"
	"github.com/peterbourgon/ff/v3"
)

// EnvPrefix is the prefix of the environment variables flags are read
// from: --max-line-bytes is ARXI_MAX_LINE_BYTES.
const EnvPrefix = "ARXI"

// EnvName is the environment variable of a flag.
func EnvName(flagName string) string {
	return EnvPrefix + "_" + strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(flagName))
}

// Parse parses args (flags may come before, between and after positional
// arguments; "--" ends the flags), then ARXI_* environment variables, then
// the --config file, each setting only the flags the sources before it left
// unset. It prints usage and returns ErrHelp for -h/--help, prints the
// version and returns ErrHelp for --version, and returns usage.invalid or
// config.invalid errors.
func (c *Command) Parse(args []string) error {
	c.errorFormat = earlyErrorFormat(args)
	if !c.IsSubcommand() && (slices.Contains(args, "--version") || slices.Contains(args, "-version")) {
		return c.printVersion(slices.Contains(args, "--json") || slices.Contains(args, "-json"))
	}
	flags, positional, err := c.split(args)
	if errors.Is(err, ErrHelp) {
		c.PrintUsage(c.Stdout)
		return ErrHelp
	}
	if err != nil {
		return err
	}
	if err := c.Flags.Parse(flags); err != nil {
		return &errcode.Error{Code: errcode.UsageInvalid, Msg: dashes(err.Error()), Hint: "see " + c.Name + " --help"}
	}
	c.args = positional
	for name := range c.cliOnly {
		if os.Getenv(EnvName(name)) != "" && !c.isSet(name) {
			return &errcode.Error{Code: errcode.ConfigInvalid, Field: name,
				Msg:  EnvName(name) + " is set, but --" + name + " is read from the command line only",
				Hint: "unset " + EnvName(name) + ", or pass --" + name + " on the command line"}
		}
	}
	// ff reads the environment for every flag the command line left unset
	// (Parse of no arguments keeps what is set).
	if err := ff.Parse(c.Flags, nil, ff.WithEnvVarPrefix(EnvPrefix)); err != nil {
		return &errcode.Error{Code: errcode.ConfigInvalid, Msg: cleanFFError(err)}
	}
	if c.config != "" {
		if err := c.applyConfig(c.config); err != nil {
			return err
		}
	}
	if c.errorFormat != "text" && c.errorFormat != "json" {
		f := c.errorFormat
		c.errorFormat = "text"
		return &errcode.Error{Code: errcode.UsageInvalid, Msg: fmt.Sprintf("--error-format %q: want text or json", f)}
	}
	return nil
}

// earlyErrorFormat finds --error-format before the flags are parsed, so
// that an error in parsing them is reported in the format asked for.
func earlyErrorFormat(args []string) string {
	format := os.Getenv(EnvName("error-format"))
	for i, a := range args {
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "error-format" {
			continue
		}
		if !hasValue && i+1 < len(args) {
			value = args[i+1]
		}
		format = value
	}
	if format != "json" {
		return "text"
	}
	return format
}

// split separates flags from positional arguments, so that flags may
// follow a file name (arxi-verify case.arxb --trust-root root.json). An
// unknown flag is a usage error with a "did you mean" hint.
func (c *Command) split(args []string) (flags, positional []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(positional, args[i+1:]...), nil
		}
		if a == "-" || !strings.HasPrefix(a, "-") {
			positional = append(positional, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		f := c.Flags.Lookup(name)
		switch {
		case f == nil && (name == "h" || name == "help"):
			return nil, nil, ErrHelp
		case f == nil:
			return nil, nil, c.unknownFlag(name)
		}
		flags = append(flags, a)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && b.IsBoolFlag()) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return flags, positional, nil
}

func (c *Command) unknownFlag(name string) error {
	var names []string
	c.Flags.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	e := &errcode.Error{Code: errcode.UsageInvalid, Msg: "unknown flag " + Dashed(name), Hint: "see " + c.Name + " --help"}
	if s := Suggest(name, names); s != "" {
		e.Hint = "did you mean " + Dashed(s) + "? (see " + c.Name + " --help)"
	}
	return e
}

// dashes writes the flag package's "-name" as "--name" in its messages.
func dashes(msg string) string {
	return strings.NewReplacer("flag -", "flag --", "argument: -", "argument: --").Replace(msg)
}

func (c *Command) isSet(name string) bool {
	set := false
	c.Flags.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func cleanFFError(err error) string {
	s := err.Error()
	for _, p := range []string{"error parsing commandline arguments: ", "error parsing environment variables: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// Suggest returns the candidate word most likely meant by a mistyped
// word: the closest within one edit (two for words of five letters or
// more), else the only candidate it is a prefix of; or "".
func Suggest(word string, candidates []string) string {
	limit := 1
	if len(word) >= 5 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, cand := range candidates {
		if d := distance(word, cand); d < bestD && d < len(word) && cand != word {
			best, bestD = cand, d
		}
	}
	if best != "" {
		return best
	}
	var prefixed []string
	for _, cand := range candidates {
		if len(word) >= 3 && strings.HasPrefix(cand, word) {
			prefixed = append(prefixed, cand)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}

// distance is the Levenshtein distance of a and b, with a transposition
// of two neighbours counting as one edit.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// applyConfig reads the --config file (SPEC §13): [global] applies to
// every binary, [arxi-NAME] to one (and wins over [global]); keys are flag
// names. Other binaries' tables are ignored, and so are [global] keys this
// command has no flag for; an unknown key in the binary's own table is
// refused (by its main command; a subcommand ignores the main command's
// keys). A flag already set by the command line or the environment keeps
// its value.
func (c *Command) applyConfig(path string) error {
	data, err := safefile.Input{What: "config file", Code: errcode.ConfigInvalid, Max: MaxConfigFile}.Read(path)
	if err != nil {
		return err
	}
	return c.applyConfigData(path, data)
}

// applyConfigData applies the config file at path, whose bytes are data.
func (c *Command) applyConfigData(path string, data []byte) error {
	tree, err := loadTOML(data)
	if err != nil {
		return &errcode.Error{Code: errcode.ConfigInvalid, Path: path, Msg: "not a TOML file", Err: err}
	}
	provided := map[string]bool{}
	c.Flags.Visit(func(f *flag.Flag) { provided[f.Name] = true })
	keys := tree.Keys()
	slices.Sort(keys)
	var own, global *toml.Tree
	for _, k := range keys {
		bad := func(msg, hint string) error {
			return &errcode.Error{Code: errcode.ConfigInvalid, Path: path, Line: int64(tree.GetPositionPath([]string{k}).Line),
				Field: k, Msg: msg, Hint: hint}
		}
		t, isTable := tree.GetPath([]string{k}).(*toml.Tree)
		switch {
		case !isTable:
			return bad("a key outside a table", "put it under [global] (every binary) or ["+c.Tool()+"] (this one)")
		case k == "global":
			global = t
		case k == c.Tool():
			own = t
		case strings.HasPrefix(k, "arxi-"):
			// another binary's table
		default:
			return bad("unknown table ["+k+"]", "tables are [global] and [arxi-NAME]")
		}
	}
	if own != nil {
		if err := c.applyTable(path, c.Tool(), own, !c.IsSubcommand(), provided); err != nil {
			return err
		}
	}
	if global != nil {
		return c.applyTable(path, "global", global, false, provided)
	}
	return nil
}

// applyTable sets the flags of one config table; with strict, a key this
// command has no flag for is refused.
func (c *Command) applyTable(path, table string, t *toml.Tree, strict bool, provided map[string]bool) error {
	keys := t.Keys()
	slices.Sort(keys)
	for _, k := range keys {
		bad := func(msg, hint string) error {
			return &errcode.Error{Code: errcode.ConfigInvalid, Path: path, Line: int64(t.GetPositionPath([]string{k}).Line),
				Field: table + "." + k, Msg: msg, Hint: hint}
		}
		f := c.Flags.Lookup(k)
		switch {
		case c.cliOnly[k] && f != nil:
			return bad("--"+k+" is read from the command line only", "remove it from the config file")
		case k == "config" || k == "version":
			return bad("--"+k+" cannot be set in a config file", "")
		case f == nil && strict:
			var names []string
			c.Flags.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
			hint := c.Tool() + " has no flag --" + k
			if s := Suggest(k, names); s != "" {
				hint += "; did you mean " + s + "?"
			}
			return bad("unknown key", hint)
		case f == nil || provided[k]:
			continue
		}
		values, err := tomlValues(t.GetPath([]string{k}))
		if err != nil {
			return bad(err.Error(), "")
		}
		for _, v := range values {
			if err := c.Flags.Set(k, v); err != nil {
				return bad("invalid value "+strconv.Quote(v)+": "+err.Error(), "")
			}
		}
		provided[k] = true // [arxi-NAME] wins over [global]
	}
	return nil
}

// loadTOML parses TOML, turning a panic of the parser into an error: a
// config file is input, and input never crashes the process.
func loadTOML(data []byte) (tree *toml.Tree, err error) {
	defer func() {
		if r := recover(); r != nil {
			tree, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return toml.LoadBytes(data)
}

// tomlValues gives a config value as the strings flag.Set takes: an
// array gives one per element, for repeatable flags.
func tomlValues(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case int64:
		return []string{strconv.FormatInt(v, 10)}, nil
	case float64:
		return []string{strconv.FormatFloat(v, 'g', -1, 64)}, nil
	case bool:
		return []string{strconv.FormatBool(v)}, nil
	case time.Time:
		return []string{v.Format(time.RFC3339Nano)}, nil
	case []any:
		var out []string
		for _, e := range v {
			s, err := tomlValues(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	case fmt.Stringer: // local dates and times
		return []string{v.String()}, nil
	}
	return nil, fmt.Errorf("a %T cannot set a flag", v)
}
