package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// config is the command line.
type config struct {
	Duration time.Duration
	Repeats  int
	Writers  []int
	Only     []string
	Dir      string
	JSON     bool
	Save     string
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := measure(ctx, cfg, peers())
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
	if cfg.Save != "" {
		if err := save(cfg.Save, rep); err != nil {
			fmt.Fprintln(os.Stderr, "peers:", err)
			os.Exit(1)
		}
	}
	if cfg.JSON {
		err = writeJSON(os.Stdout, rep)
	} else {
		err = writeTable(os.Stdout, rep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

// peers is every system measured, stigaudit in process first: the others'
// ratios are to it.
func peers() []peer {
	return []peer{
		inProcess,
		overHTTP(1),
		overHTTP(100),
		seedEmit,
		tesseraPOSIX("tessera POSIX, as shipped", 0, 0),
		tesseraPOSIX("tessera POSIX, 10 ms batches", 10*time.Millisecond, time.Second),
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	var cfg config
	var writers, only string
	fs.DurationVar(&cfg.Duration, "duration", 2*time.Second, "how long each run of a cell lasts")
	fs.IntVar(&cfg.Repeats, "repeats", 3, "runs per cell; the median by events/s is reported")
	fs.StringVar(&writers, "writers", "1,8,64", "concurrent writers, comma-separated")
	fs.StringVar(&only, "only", "", "measure only the peers whose names contain one of these words, comma-separated (stigaudit in process always runs)")
	fs.StringVar(&cfg.Dir, "dir", ".", "directory on the disk to measure (each cell gets a fresh temporary directory in it)")
	fs.BoolVar(&cfg.JSON, "json", false, "print JSON instead of the table")
	fs.StringVar(&cfg.Save, "save", "", "also write the JSON to this file (the table and the JSON of one measurement)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.Duration <= 0 || cfg.Repeats <= 0 {
		return cfg, fmt.Errorf("--duration and --repeats must be positive")
	}
	for _, w := range strings.Split(writers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n <= 0 {
			return cfg, fmt.Errorf("--writers: %q is not a positive number", w)
		}
		cfg.Writers = append(cfg.Writers, n)
	}
	if only != "" {
		cfg.Only = strings.Split(only, ",")
	}
	return cfg, nil
}

// selected reports whether p is to be measured.
func (c config) selected(p peer) bool {
	if len(c.Only) == 0 || p.Name == inProcess.Name {
		return true
	}
	return slices.ContainsFunc(c.Only, func(w string) bool {
		return strings.Contains(strings.ToLower(p.Name), strings.ToLower(strings.TrimSpace(w)))
	})
}

// measure runs every selected peer at every concurrency, cfg.Repeats
// times, and keeps each cell's median run.
func measure(ctx context.Context, cfg config, all []peer) (report, error) {
	if err := checkDisk(cfg.Dir); err != nil {
		return report{}, err
	}
	rep := report{
		Date:       time.Now().UTC().Format(time.DateOnly),
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		EventBytes: len(newSample(0, 0).JSON()),
		Duration:   cfg.Duration.String(),
		Repeats:    cfg.Repeats,
		LoadBefore: loadAverage(),
		Durability: "fsync before acknowledging: SQLite synchronous=FULL; tessera POSIX fsyncs bundles and tree state before resolving the index future",
	}
	for _, p := range all {
		if !cfg.selected(p) {
			continue
		}
		for _, w := range cfg.Writers {
			runs := make([]run, 0, cfg.Repeats)
			for r := range cfg.Repeats {
				fmt.Fprintf(os.Stderr, "peers: %s, %d writers, run %d/%d\n", p.Name, w, r+1, cfg.Repeats)
				got, err := cell(ctx, p, cfg.Dir, w, cfg.Duration)
				if err != nil {
					return rep, err
				}
				runs = append(runs, got)
			}
			rep.Cells = append(rep.Cells, summarize(p, w, runs))
		}
	}
	rep.LoadAfter = loadAverage()
	rep.ratios()
	return rep, nil
}
