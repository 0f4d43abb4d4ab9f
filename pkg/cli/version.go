package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"arxi.dev/arxi/pkg/canonical"
)

// BuildInfo is what a binary knows of how it was built.
type BuildInfo struct {
	Tool          string `json:"tool"`
	Version       string `json:"version"`        // the toolkit's release, Version
	SpecVersion   string `json:"spec_version"`   // SpecVersion
	ModuleVersion string `json:"module_version"` // the main module's version, "(devel)" for a local build
	Revision      string `json:"revision"`       // the VCS revision built from, "" when unknown
	Time          string `json:"revision_time"`  // the revision's commit time, "" when unknown
	Modified      bool   `json:"modified"`       // the working tree had changes
	GoVersion     string `json:"go_version"`
}

// ReadBuildInfo returns the binary's build information (runtime/debug).
func ReadBuildInfo(tool string) BuildInfo {
	b := BuildInfo{Tool: tool, Version: Version, SpecVersion: SpecVersion, ModuleVersion: "(unknown)", GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := info.Main.Version; v != "" {
		b.ModuleVersion = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the one line --version prints.
func (b BuildInfo) String() string {
	s := fmt.Sprintf("%s %s (Arxi spec v%s; module %s", b.Tool, b.Version, b.SpecVersion, b.ModuleVersion)
	if b.Revision != "" {
		s += "; revision " + b.Revision
		if b.Modified {
			s += " modified"
		}
	}
	return s + "; " + b.GoVersion + ")"
}

func (c *Command) printVersion(asJSON bool) error {
	b := ReadBuildInfo(c.Tool())
	if !asJSON {
		fmt.Fprintln(c.Stdout, b)
		return ErrHelp
	}
	line, err := canonical.Marshal(b)
	if err != nil {
		return err
	}
	c.Stdout.Write(append(line, '\n'))
	return ErrHelp
}
