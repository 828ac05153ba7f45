package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// cmdVersion prints the version stigaudit was built from.
func cmdVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionOf(bi))
	return nil
}

// versionOf describes a build: "stigaudit v1.2.3 (rev abc1234, go1.26.8)",
// with "-dirty" after a revision built from a modified tree, and
// "(devel)" as the version when the module's version is unknown (a build
// inside the source tree without a tag).
func versionOf(bi *debug.BuildInfo) string {
	version, goVersion := "(devel)", runtime.Version()
	var rev string
	var dirty bool
	if bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev == "" {
		return fmt.Sprintf("stigaudit %s (%s)", version, goVersion)
	}
	rev = rev[:min(len(rev), 12)]
	if dirty {
		rev += "-dirty"
	}
	return fmt.Sprintf("stigaudit %s (rev %s, %s)", version, rev, goVersion)
}
