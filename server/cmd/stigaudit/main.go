// Command stigaudit is the stigaudit reference server and its operator
// tools: serve, keys, migrate, bench, export, verify, monitor, recover and
// version.
//
// Configuration comes from flags; most have a STIGAUDIT_* environment
// variable, which a flag given on the command line overrides (docs/operations.md#commands-and-configuration).
// 'stigaudit help' lists the commands and 'stigaudit <command> -h' the
// synopsis and flags of one, each with its variable:
//
//	stigaudit serve [--listen ADDR] [--data-dir DIR] [--database-url URL] [--sink SPEC]...
//	stigaudit keys create --tenant T --entity URI --perm p1,p2 [--label L]
//	stigaudit keys list | revoke KEY_ID
//	stigaudit keys checkpoint-key [--data-dir D] [--node N]
//	stigaudit migrate
//	stigaudit bench emit [--http URL | --data-dir D] [--concurrency C] [--events N] [--batch B] [--baseline] --json
//	stigaudit export [--format ndjson|csv] [--data-dir D | --database-url URL | --server URL] [filters]
//	stigaudit verify (--data-dir D | --database-url URL | --ndjson FILE) --verifier-key KEY [--checkpoint FILE] [--since-checkpoint OLD_FILE]
//	stigaudit monitor --server URL --api-key KEY --verifier-key KEY --state DIR [--witness-policy F] [--once]
//	stigaudit recover --data-dir D --start-new-log
//	stigaudit version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(realMain())
}

// realMain is main returning its exit status (0 done, 1 failed, 2 usage),
// so that the testscript tests run it as the stigaudit command.
func realMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// errUsage marks errors whose message is a usage hint (exit status 2).
var errUsage = errors.New("usage")

// commands are the CLI's commands, in the order the help lists them.
var commands = []*command{
	{name: "serve", summary: "Run the HTTP server (default store: SQLite in --data-dir).",
		usage: "usage: stigaudit serve [--listen ADDR] [--data-dir D | --database-url postgres://...] [--sink SPEC]... [flags]", run: cmdServe},
	{name: "keys", summary: "Create, list or revoke API keys, and print or rotate the checkpoint key.",
		usage: "usage: stigaudit keys <command> [flags]", subs: []*command{
			{name: "keys create", summary: "Create an API key and print it (once) on standard output.",
				usage: "usage: stigaudit keys create [--data-dir D] --tenant T --entity URI --perm p1,p2 [--oidc-sub S] [--label L] [--expires 90d]\n\n" +
					"permissions: audit.write, read, audit.read, admin\n" +
					"expiry: a duration from now (90d, 12h, 30m) or an RFC 3339 time; default never", run: sub(cmdKeys, "create")},
			{name: "keys list", summary: "List the API keys (never their secrets).",
				usage: "usage: stigaudit keys list [--data-dir D]", run: sub(cmdKeys, "list")},
			{name: "keys revoke", summary: "Revoke an API key and record the revocation in the log.",
				usage: "usage: stigaudit keys revoke [--data-dir D] KEY_ID", run: sub(cmdKeys, "revoke")},
			{name: "keys checkpoint-key", summary: "Print the log's checkpoint verifier key.",
				usage: checkpointKeyUsage, run: sub(cmdKeys, "checkpoint-key")},
			{name: "keys rotate-checkpoint-key", summary: "Add a new checkpoint signing key, or retire the old one.",
				usage: rotateUsage, run: sub(cmdKeys, "rotate-checkpoint-key")},
		}},
	{name: "migrate", summary: "Apply the embedded database migrations and exit.",
		usage: "usage: stigaudit migrate [--data-dir D | --database-url postgres://...]", run: cmdMigrate},
	{name: "bench", summary: "Measure durable emit throughput and latency.",
		usage: "usage: stigaudit bench <command> [flags]", subs: []*command{
			{name: "bench emit", summary: "Emit events in process or to a running server and report the rate and latency.",
				usage: "usage: stigaudit bench emit [--http URL --api-key KEY | --data-dir D] [--concurrency C] [--events N] [--batch B] [--baseline] [--json]",
				run:   sub(cmdBench, "emit")},
		}},
	{name: "export", summary: "Write the log with its signed checkpoint (NDJSON, CSV or OCSF), from the SQLite file, PostgreSQL or a running server.",
		usage: exportUsage, run: cmdExport},
	{name: "verify", summary: "Check a database (SQLite or PostgreSQL), an export or a receipt offline against a signed checkpoint.",
		usage: verifyUsage, run: cmdVerify},
	{name: "monitor", summary: "Keep the last verified checkpoint and alert on a fork, rollback, missing quorum or changed event.",
		usage: monitorUsage, run: cmdMonitor},
	{name: "recover", summary: "Move a log that can no longer go on aside, so the next start begins a new one.",
		usage: recoverUsage, run: cmdRecover},
	{name: "version", summary: "Print the version, VCS revision and Go version stigaudit was built from.",
		usage: "usage: stigaudit version", run: cmdVersion},
}

// topUsage is the help of stigaudit itself.
func topUsage(w io.Writer) {
	fmt.Fprintf(w, "stigaudit is a tamper-evident security audit log server and its operator tools.\n\nusage: stigaudit <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'stigaudit help <command>' or 'stigaudit <command> -h' for the synopsis and flags of a command.\n")
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// run runs the command args and returns the exit status: 0 done (and
// help asked for), 1 failed, 2 a usage error (unknown command, bad flag
// or environment value), which prints one line and where to find help.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		topUsage(stderr)
		return 2
	}
	switch {
	case isHelp(args[0]) || args[0] == "help" && len(args) == 1:
		topUsage(stdout)
		return 0
	case args[0] == "help":
		return run(ctx, append(args[1:len(args):len(args)], "-h"), stdout, stderr)
	case args[0] == "-version" || args[0] == "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	cmd, rest := find(commands, args)
	if cmd == nil {
		fmt.Fprintf(stderr, "stigaudit: unknown command %q\nRun 'stigaudit -h' for the list of commands.\n", args[0])
		return 2
	}
	for len(cmd.subs) > 0 {
		switch {
		case len(rest) > 0 && isHelp(rest[0]):
			printUsage(stdout, cmd, nil)
			return 0
		case len(rest) == 0:
			fmt.Fprintf(stderr, "stigaudit %s: a command is required\nRun 'stigaudit %s -h' for the list of its commands.\n", cmd.name, cmd.name)
			return 2
		}
		group, word := cmd, rest[0]
		if cmd, rest = find(group.subs, rest); cmd == nil {
			fmt.Fprintf(stderr, "stigaudit %s: unknown command %q\nRun 'stigaudit %s -h' for the list of its commands.\n", group.name, word, group.name)
			return 2
		}
	}
	err := cmd.run(ctx, rest, stdout, stderr)
	var help helpRequest
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		printUsage(stdout, cmd, help.fs)
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "stigaudit %s: %v\nRun 'stigaudit %s -h' for usage.\n", cmd.name, err, cmd.name)
		return 2
	default:
		fmt.Fprintln(stderr, "stigaudit:", err)
		return 1
	}
}
