package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// command is one command or subcommand of the CLI: what its help says and
// what runs it. A command with subs is a group (keys, bench): its run is
// nil and the next word picks the subcommand.
type command struct {
	name    string // as typed after "stigaudit": "serve", "keys create"
	summary string // one line: what it does
	// usage is the synopsis ("usage: stigaudit ...") and any further
	// paragraphs; the flags are listed after it from the flag set.
	usage string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	subs  []*command
}

// sub returns a run function that calls a command taking its subcommand
// as the first argument (cmdKeys, cmdBench) with that word put back.
func sub(run func(context.Context, []string, io.Writer, io.Writer) error, word string) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return run(ctx, append([]string{word}, args...), stdout, stderr)
	}
}

// find returns the command args name and the arguments after its name,
// or nil when args[0] names no command.
func find(cmds []*command, args []string) (*command, []string) {
	for _, c := range cmds {
		if c.name == args[0] || strings.HasSuffix(c.name, " "+args[0]) {
			return c, args[1:]
		}
	}
	return nil, nil
}

// helpRequest is what parseFlags returns for -h or --help: run prints the
// command's usage with the flags of fs to standard output and exits 0.
type helpRequest struct{ fs *flag.FlagSet }

func (helpRequest) Error() string { return "help requested" }

// newFlagSet returns the flag set of the command name ("serve", "keys
// create"). It prints nothing itself: parseFlags turns -h into a
// helpRequest and a bad flag into a usage error, and run prints either.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("stigaudit "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args into fs and then fills every flag not given on
// the command line from its environment variable (applyEnv). -h and
// --help return a helpRequest; a bad flag or environment value returns an
// error wrapping errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	return applyEnv(fs)
}

// parseArgs is the command-line half of parseFlags, for a command that
// must know which flags the command line set before the environment
// fills the others (verify).
func parseArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpRequest{fs}
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

// envRE finds the environment variable a flag's usage names. The usage is
// the binding, so the help and the behaviour cannot disagree.
var envRE = regexp.MustCompile(`\(env (STIGAUDIT_[A-Z0-9_]+)\)`)

// envOf returns the variable a flag reads when the command line does not
// set it, or "".
func envOf(f *flag.Flag) string {
	if m := envRE.FindStringSubmatch(f.Usage); m != nil {
		return m[1]
	}
	return ""
}

// applyEnv is the one place the environment configures a flag (docs/operations.md#commands-and-configuration):
// each flag whose usage names a variable "(env STIGAUDIT_...)" and that
// the command line did not set (under any of its names) takes the
// variable's value when it is set and not empty. A value the flag refuses
// is a usage error naming the variable; the value itself is never
// printed, as it may be a secret (STIGAUDIT_DATABASE_URL, STIGAUDIT_KEY).
func applyEnv(fs *flag.FlagSet) error {
	given := map[flag.Value]bool{} // by value: a deprecated name shares its flag's
	fs.Visit(func(f *flag.Flag) { given[f.Value] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := envOf(f)
		if err != nil || name == "" || given[f.Value] {
			return
		}
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return
		}
		if fs.Set(f.Name, v) != nil {
			kind, _ := flag.UnquoteUsage(f)
			if kind == "" {
				kind = "bool"
			}
			err = fmt.Errorf("%w: environment variable %s is not a valid %s for --%s (its value is not shown)", errUsage, name, kind, f.Name)
		}
	})
	return err
}

// deprecatedFlag registers old as a second name of the flag now, so that
// scripts written before the rename keep working; warnDeprecated says so
// when it is used.
func deprecatedFlag(fs *flag.FlagSet, old, now string) {
	fs.Var(fs.Lookup(now).Value, old, "deprecated, use --"+now)
}

// warnDeprecated prints one line to stderr for each flag given on the
// command line whose usage starts with "deprecated".
func warnDeprecated(fs *flag.FlagSet, stderr io.Writer) {
	fs.Visit(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "deprecated") {
			use, _, _ := strings.Cut(f.Usage, ";")
			fmt.Fprintf(stderr, "%s: --%s is %s\n", fs.Name(), f.Name, use)
		}
	})
}

// printUsage writes c's help: what it does, its synopsis and, when fs is
// not nil, its flags with their defaults and environment variables.
func printUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n\n%s\n", c.summary, strings.TrimRight(c.usage, "\n"))
	if len(c.subs) > 0 {
		fmt.Fprintf(w, "\ncommands:\n")
		for _, s := range c.subs {
			fmt.Fprintf(w, "  %-22s %s\n", strings.TrimPrefix(s.name, c.name+" "), s.summary)
		}
		fmt.Fprintf(w, "\nRun 'stigaudit %s <command> -h' for the flags of a command.\n", c.name)
	}
	if fs == nil {
		return
	}
	var flags bytes.Buffer
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if flags.Len() > 0 {
		fmt.Fprintf(w, "\nflags:\n%s", flags.String())
	}
}
