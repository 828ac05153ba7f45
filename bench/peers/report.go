package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

// report is one whole measurement, as --json prints it.
type report struct {
	Date       string `json:"date"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	EventBytes int    `json:"event_bytes"`
	Duration   string `json:"duration_per_run"`
	Repeats    int    `json:"repeats"`
	Durability string `json:"durability"`
	// LoadBefore and LoadAfter are the load average when the run started
	// and ended: other work on the machine skews every cell.
	LoadBefore string `json:"load_average_before,omitempty"`
	LoadAfter  string `json:"load_average_after,omitempty"`
	Cells      []row  `json:"cells"`
}

// row is one peer at one concurrency: its median run, every run, and its
// ratio to stigaudit in process at the same concurrency.
type row struct {
	Peer    string  `json:"peer"`
	Writers int     `json:"writers"`
	PerCall int     `json:"events_per_call"`
	Median  run     `json:"median"`
	Runs    []run   `json:"runs"`
	Ratio   float64 `json:"ratio_to_in_process"`
}

// summarize picks the median run by events/s (the lower middle one when
// the count is even).
func summarize(p peer, writers int, runs []run) row {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b run) int {
		switch {
		case a.EventsPerS < b.EventsPerS:
			return -1
		case a.EventsPerS > b.EventsPerS:
			return 1
		}
		return 0
	})
	return row{Peer: p.Name, Writers: writers, PerCall: p.PerCall, Median: sorted[(len(sorted)-1)/2], Runs: runs}
}

// ratios sets each row's ratio to stigaudit in process at its concurrency.
func (r *report) ratios() {
	base := map[int]float64{}
	for _, c := range r.Cells {
		if c.Peer == inProcess.Name {
			base[c.Writers] = c.Median.EventsPerS
		}
	}
	for i := range r.Cells {
		if b := base[r.Cells[i].Writers]; b > 0 {
			r.Cells[i].Ratio = r.Cells[i].Median.EventsPerS / b
		}
	}
}

// writeTable prints the report as one table, grouped by concurrency.
func writeTable(w io.Writer, r report) error {
	fmt.Fprintf(w, "bench/peers %s: %d cores (GOMAXPROCS %d), %d-byte event, median of %d runs of %s per cell\n",
		r.Date, r.Cores, r.GOMAXPROCS, r.EventBytes, r.Repeats, r.Duration)
	fmt.Fprintf(w, "durability: %s\n", r.Durability)
	fmt.Fprintf(w, "load average (1, 5, 15 min): %s before, %s after\n\n", r.LoadBefore, r.LoadAfter)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "writers\tpeer\tevents/s\tp50 ms\tp99 ms\tvs in process\terrors\t")
	rows := slices.Clone(r.Cells)
	slices.SortStableFunc(rows, func(a, b row) int { return a.Writers - b.Writers })
	for _, c := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f\t%.2f\t%s\t%d\t\n", c.Writers, c.Peer, thousands(c.Median.EventsPerS),
			c.Median.P50Ms, c.Median.P99Ms, ratio(c.Ratio), c.Median.Errors)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	for _, c := range r.Cells {
		if c.Median.FirstError != "" {
			fmt.Fprintf(w, "\n%s, %d writers: first error: %s", c.Peer, c.Writers, c.Median.FirstError)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

// ratio prints a ratio to in process: a loss stays a loss (below 1×).
func ratio(x float64) string {
	if x == 0 {
		return "-"
	}
	switch {
	case x >= 10:
		return fmt.Sprintf("%.0f×", x)
	case x < 0.1:
		return fmt.Sprintf("%.3f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

// thousands formats n events/s with thousands separators.
func thousands(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// writeJSON prints the report as --json does.
func writeJSON(w io.Writer, r report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// save writes the report's JSON to path.
func save(path string, r report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := writeJSON(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}
