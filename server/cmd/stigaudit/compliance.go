package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/server/redact"
	"github.com/stigaudit/stigaudit/server/retention"
)

// complianceFlags are serve's flags for export, redaction, the live
// stream and retention (docs/api.md).
type complianceFlags struct {
	redactFields     string
	redactPrincipals string
	retention        string
	shortRetention   bool
}

func (f *complianceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.redactFields, "redact-fields", redact.DefaultFields,
		"fields replaced by hmac-sha256:<hex> in redacted answers: entity_uri, emitter, oidc_sub, fact_id, source, attested_key_id, scope, detail.<path> (env STIGAUDIT_REDACT_FIELDS)")
	fs.StringVar(&f.redactPrincipals, "redact-principals", "",
		"comma-separated key ids or entity URIs whose reads, streams and exports are always redacted (env STIGAUDIT_REDACT_PRINCIPALS)")
	fs.StringVar(&f.retention, "retention", strconv.Itoa(retention.DefaultDays)+"d",
		"purge the content of events older than this many days, keeping their leaf hashes; off keeps everything (env STIGAUDIT_RETENTION)")
	fs.BoolVar(&f.shortRetention, "i-understand-short-retention", false,
		fmt.Sprintf("allow a retention below %d days (env STIGAUDIT_I_UNDERSTAND_SHORT_RETENTION)", retention.FloorDays))
}

// policy checks the flags before anything starts.
func (f *complianceFlags) policy() (retention.Policy, *redact.Profile, error) {
	days, err := retention.ParseDays(f.retention)
	if err != nil {
		return retention.Policy{}, nil, fmt.Errorf("%w: --retention: %v", errUsage, err)
	}
	pol := retention.Policy{Days: days, Override: f.shortRetention}
	if err := pol.Check(); err != nil {
		return pol, nil, fmt.Errorf("%w: --retention: %v", errUsage, err)
	}
	prof, err := redact.ParseProfile(f.redactFields)
	if err != nil {
		return pol, nil, fmt.Errorf("%w: --redact-fields: %v", errUsage, err)
	}
	return pol, prof, nil
}

// redaction builds the redaction policy of reads, streams and exports
// from the flags and the data directory's salt (created on first start).
func (f *complianceFlags) redaction(dataDir string) (*redact.Policy, error) {
	prof, err := redact.ParseProfile(f.redactFields)
	if err != nil {
		return nil, fmt.Errorf("%w: --redact-fields: %v", errUsage, err)
	}
	hasher, err := redact.LoadOrCreateSalt(dataDir, rand.Reader)
	if err != nil {
		return nil, err
	}
	var principals []string
	for _, p := range strings.Split(f.redactPrincipals, ",") {
		if p = strings.TrimSpace(p); p != "" {
			principals = append(principals, p)
		}
	}
	return redact.NewPolicy(hasher, prof, principals), nil
}

// startRetention records the retention setting and starts the purger. The
// returned function stops it; call it before closing the log.
func (f *complianceFlags) startRetention(ctx context.Context, purging retention.Purging, log *stigaudit.Log, logger *slog.Logger) (func(), error) {
	retPol, _, err := f.policy()
	if err != nil {
		return nil, err
	}
	purger, err := retention.New(retention.Config{Purging: purging, Log: log, Policy: retPol, Logger: logger})
	if err != nil {
		return nil, err
	}
	if _, err := purger.RecordConfig(ctx); err != nil {
		return nil, fmt.Errorf("recording the retention setting: %w", err)
	}
	if retPol.Days > 0 {
		purger.Start()
		logger.Info("retention", slog.Int("days", retPol.Days), slog.Bool("floor_override", retPol.Override))
	}
	return purger.Stop, nil
}
