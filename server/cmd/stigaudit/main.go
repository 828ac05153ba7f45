// Command stigaudit is the stigaudit reference server and its operator
// tools: serve, keys, migrate, bench, export and verify.
//
// Configuration comes from flags, each with a STIGAUDIT_* environment
// variable as its default (SPEC §10):
//
//	stigaudit serve [--listen ADDR] [--data-dir DIR] [--database-url URL] [--sink SPEC]...
//	stigaudit keys create --tenant T --entity URI --perm p1,p2 [--label L]
//	stigaudit keys list | revoke KEY_ID
//	stigaudit migrate
//	stigaudit bench emit [--http URL | --data-dir D] [--concurrency C] [--events N] [--batch B] [--baseline] --json
//	stigaudit keys checkpoint-key [--data-dir D] [--node N]
//	stigaudit export [--format ndjson|csv] [--data-dir D | --database-url URL | --server URL] [filters]
//	stigaudit monitor --server URL --api-key KEY --key VERIFIER_KEY --state DIR [--witness-policy F] [--once]
//	stigaudit recover --data-dir D --start-new-log
//	stigaudit verify (--db FILE|URL | --ndjson FILE) --key VERIFIER_KEY [--checkpoint FILE] [--since-checkpoint OLD_FILE]
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

const usage = `usage: stigaudit <command> [flags]

commands:
  serve     run the HTTP server (default store: SQLite in --data-dir)
  keys      create, list or revoke API keys
  migrate   apply the embedded database migrations and exit
  bench     measure durable emit throughput and latency
  export    write the log with its signed checkpoint (NDJSON or CSV), from
            the SQLite file, PostgreSQL or a running server
  verify    check a database (SQLite file or PostgreSQL) or an export
            offline against a checkpoint
  monitor   keep the last verified checkpoint and alert on a fork,
            rollback, missing quorum or changed event
  recover   move a log that can no longer go on aside, so the next start
            begins a new one (--start-new-log)

Run 'stigaudit <command> -h' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors whose message is a usage hint.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "keys":
		err = cmdKeys(ctx, args[1:], stdout, stderr)
	case "migrate":
		err = cmdMigrate(ctx, args[1:], stdout, stderr)
	case "bench":
		err = cmdBench(ctx, args[1:], stdout, stderr)
	case "verify":
		err = cmdVerify(ctx, args[1:], stdout, stderr)
	case "export":
		err = cmdExport(ctx, args[1:], stdout, stderr)
	case "monitor":
		err = cmdMonitor(ctx, args[1:], stdout, stderr)
	case "recover":
		err = cmdRecover(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "stigaudit: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "stigaudit:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "stigaudit:", err)
		return 1
	}
}
