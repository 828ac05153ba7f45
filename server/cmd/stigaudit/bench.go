package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/stigaudit/stigaudit/server/bench"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "emit" {
		return fmt.Errorf("%w: the only bench command is emit", errUsage)
	}
	var cfg bench.Config
	var asJSON bool
	fs := newFlagSet("bench emit")
	fs.StringVar(&cfg.HTTP, "http", "", "base URL of a running server (default: in process)")
	fs.StringVar(&cfg.Key, "api-key", "", "API key with audit.write for --http (env STIGAUDIT_KEY)")
	deprecatedFlag(fs, "key", "api-key")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory for the in-process SQLite file (default: a temporary one)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "concurrent emitters")
	fs.IntVar(&cfg.Events, "events", 20000, "total events")
	fs.IntVar(&cfg.Batch, "batch", 1, "events per HTTP request")
	fs.IntVar(&cfg.DetailBytes, "detail-bytes", 100, "padding in each event's detail")
	fs.BoolVar(&cfg.Baseline, "baseline", false, "also measure one transaction per event in process, and the ratio")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object")
	fs.BoolVar(&cfg.NoFileCheck, "no-file-check", false, "in process: skip the store's per-commit check that the database is the file it opened (to measure its cost)")
	registerClientTLS(fs) // for --http https://...
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	warnDeprecated(fs, stderr)
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	tlsConf, err := clientTLS(fs)
	if err != nil {
		return err
	}
	cfg.TLS = tlsConf
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "%s: %d events, concurrency %d, batch %d: %.0f events/s, p50 %.2f ms, p99 %.2f ms, errors %d\n",
		res.Mode, res.Events, res.Concurrency, res.Batch, res.EventsPerS, res.P50Ms, res.P99Ms, res.Errors)
	if cfg.Baseline {
		fmt.Fprintf(stdout, "baseline (one transaction per event): %.0f events/s; ratio %.1fx\n", res.BaselineEventsPerS, res.Ratio)
	}
	return nil
}
