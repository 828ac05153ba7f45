package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strconv"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/server/export"
	"github.com/stigaudit/stigaudit/server/tlog"
)

const exportUsage = `usage: stigaudit export --format csv|ndjson|ocsf [--data-dir D [--database-url postgres://...] [--no-sign] | --server URL] [--redact] [filters]

filters: --tenant T, --event-type X (repeatable), --entity-uri U, --oidc-sub S,
--source S, --fact-id F, --attested true|false, --outcome O, --scope S,
--since TIME, --until TIME (RFC 3339), --from SEQ

Writes the events oldest first to standard output, then the signed
checkpoint that covers them. With any filter each event carries its
inclusion proof. Before exporting, the log is checkpointed with the data
directory's key (unless --no-sign), so the export covers every event
committed when it starts. CSV has the columns (docs/api.md#csv) and no checkpoint.
OCSF is NDJSON of OCSF records (docs/operations.md#siem-formats), each
keeping its seq, leaf hash, tenant and proof in "unmapped", then the
checkpoint line.

The log is the SQLite file in --data-dir, or the PostgreSQL database of
--database-url (STIGAUDIT_DATABASE_URL) that serve replicas share. On
PostgreSQL the export signs only while it holds the checkpoint signer's
role, the leader lock the replicas elect their signer with, and only on
top of a checkpoint the replicas stored before, with the same key (the
data directory's checkpoint.key must be theirs). When a running replica
holds the role, the export ends with the latest checkpoint that replica
stored (as with --no-sign), about a second behind the log, so that two
signers never race. With no checkpoint stored yet it fails: start serve.

With --server URL the export runs on that server (its API key from
--api-key or STIGAUDIT_KEY), which records it as audit_export events; if
it breaks off, the output ends with the last whole record and the error
names the --from that continues it. --redact replaces the configured sensitive fields with
hmac-sha256:<hex> (locally: STIGAUDIT_REDACT_FIELDS and the data
directory's salt). On a terminal, progress is shown on standard error.`

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	var format, server, tenant string
	var types multiFlag
	var noSign, redactOut bool
	var q hostfns.Query
	var source, attested, since, until string
	var from int64
	fs := newFlagSet("export")
	c.register(fs)
	fs.StringVar(&format, "format", "", "csv, ndjson or ocsf; required")
	fs.StringVar(&server, "server", "", "export from the server at this URL, with --api-key")
	fs.String("api-key", "", "API key for --server (env STIGAUDIT_KEY)")
	fs.BoolVar(&redactOut, "redact", false, "replace sensitive fields with hmac-sha256:<hex> (redact=hmac)")
	fs.BoolVar(&noSign, "no-sign", false, "do not sign a checkpoint first: export up to the latest stored checkpoint")
	fs.StringVar(&tenant, "tenant", "", "only this tenant")
	fs.Var(&types, "event-type", "only this event type (repeatable)")
	fs.StringVar(&q.EntityURI, "entity-uri", "", "only this acting principal")
	fs.StringVar(&q.OIDCSub, "oidc-sub", "", "only this OIDC subject")
	fs.StringVar(&source, "source", "", "only this source (may be empty: --source=)")
	fs.StringVar(&q.FactID, "fact-id", "", "only this target id")
	fs.StringVar(&attested, "attested", "", "true: only attested events; false: only unattested ones")
	fs.StringVar(&q.Outcome, "outcome", "", "only success, failure or denied")
	fs.StringVar(&q.Scope, "scope", "", "only this scope")
	fs.StringVar(&since, "since", "", "only events at or after this RFC 3339 time")
	fs.StringVar(&until, "until", "", "only events before this RFC 3339 time")
	fs.Int64Var(&from, "from", 0, "start at this seq (a resumed export)")
	registerClientTLS(fs) // for --server https://...
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	switch format {
	case "ndjson", "csv", "ocsf":
	default:
		return fmt.Errorf("%w: --format csv, ndjson or ocsf is required", errUsage)
	}
	if server != "" {
		return exportRemote(ctx, fs, server, format, redactOut, stdout, stderr)
	}
	// Filters, checked like the HTTP read parameters.
	var err error
	if tenant != "" {
		if q.Tenant, err = event.NormalizeTenant(tenant); err != nil {
			return fmt.Errorf("%w: --tenant: %v", errUsage, err)
		}
	}
	q.Types = types
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "source" {
			q.Source = &source
		}
	})
	switch q.Outcome {
	case "", event.OutcomeSuccess, event.OutcomeFailure, event.OutcomeDenied:
	default:
		return fmt.Errorf("%w: --outcome must be success, failure or denied", errUsage)
	}
	if attested != "" {
		b, err := strconv.ParseBool(attested)
		if err != nil {
			return fmt.Errorf("%w: --attested must be true or false", errUsage)
		}
		q.Attested = &b
	}
	if q.Since, err = exportTime("since", since); err != nil {
		return err
	}
	if q.Until, err = exportTime("until", until); err != nil {
		return err
	}
	if from < 0 {
		return fmt.Errorf("%w: --from must not be negative", errUsage)
	}
	q.Limit = 1
	if err := q.Check(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}

	store, err := c.openStore(ctx, storeOptions{})
	if err != nil {
		return err
	}
	defer store.Close()
	s, err := exportCheckpoint(ctx, &c, store, noSign, stderr)
	if err != nil {
		return err
	}
	opts := export.Options{Filter: q, From: from, Checkpoint: s.Note, Size: s.Size, Prover: tlog.NewFixedProver(store, s.Size)}
	f, err := localFormat(format, s.Origin, c.dataDir, redactOut, &opts, stdout, stderr)
	if err != nil {
		return err
	}
	st, err := export.Write(ctx, store, f, opts)
	if err != nil {
		return err
	}
	kind := "complete"
	if st.Filtered {
		kind = "filtered, with inclusion proofs"
	}
	if format == "csv" {
		kind = "csv, no proofs"
	}
	fmt.Fprintf(stderr, "exported %d events (%s) covered by checkpoint %s size %d\n", st.Events, kind, s.Origin, s.Size)
	return nil
}

// exportCheckpoint returns the checkpoint an export ends with: a new one
// over the whole log, signed with the data directory's key, or without the
// key (or with --no-sign, or when the stored log does not extend what was
// signed) the latest stored one.
//
// On PostgreSQL several serve replicas may share the log, and the one a
// pgstore.Leader elects for checkpointerRole stores their checkpoints. A
// local export must not become a second signer beside it, so there it
// signs only
//   - on top of a stored checkpoint that opens with its key (the first
//     checkpoint, which fixes the log's key for every replica, is left to
//     serve; with none stored the export fails), and
//   - while it holds checkpointerRole itself, through the same
//     pgCheckpoints the replicas store with (the advisory lock, the check
//     that the stored tree extends the latest checkpoint, the table's
//     trigger).
//
// When a replica holds the role, the export ends with the latest checkpoint
// stored, checked against the stored tree as a following replica checks
// it: at most about a second behind the log, and never a fork of it.
func exportCheckpoint(ctx context.Context, c *common, store backend, noSign bool, stderr io.Writer) (tlog.Signed, error) {
	where := c.databaseName()
	pg, onPostgres := store.shared, store.replicated()
	key, err := tlog.LoadKey(c.dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		if !noSign {
			fmt.Fprintf(stderr, "stigaudit: no %s in %s: exporting up to the latest stored checkpoint\n", tlog.KeyFile, c.dataDir)
		}
		noSign = true
	} else if err != nil {
		return tlog.Signed{}, fmt.Errorf("checkpoint key: %w", err)
	}
	latest, ok, err := store.checkpoints(nil).Latest(ctx)
	if err != nil {
		return tlog.Signed{}, fmt.Errorf("reading the latest checkpoint of %s: %w", where, err)
	}
	switch {
	case !ok && onPostgres:
		return tlog.Signed{}, fmt.Errorf("no checkpoint is stored in %s yet: on PostgreSQL the first checkpoint is signed by the elected serve replica, not by an export; start `stigaudit serve --database-url ...` once, then export again", where)
	case !ok && noSign:
		return tlog.Signed{}, fmt.Errorf("no checkpoint is stored in %s yet: start the server once, or export without --no-sign", where)
	case noSign:
		return latest, nil
	}
	checkpoints := store.checkpoints(nil)
	if onPostgres {
		leader := pg.NewLeader(checkpointerRole, pgstore.LeaderOptions{Logger: slog.New(slog.DiscardHandler)})
		defer leader.Close() // resigns at once: the replicas take the role back within a second
		select {
		case <-leader.Settled():
		case <-ctx.Done():
			return tlog.Signed{}, ctx.Err()
		}
		if !leader.IsLeader() {
			fmt.Fprintf(stderr, "stigaudit: another process (a serve replica) signs the checkpoints of %s: exporting up to the latest one it stored\n", where)
		}
		checkpoints = store.checkpoints(leader)
	}
	cp, err := tlog.New(ctx, tlog.Config{Tree: store, Checkpoints: checkpoints, Pin: tlog.PinIn(c.dataDir), Key: key, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return tlog.Signed{}, fmt.Errorf("checkpointer for the export: %w", err)
	}
	s, err := cp.Sync(ctx)
	if err != nil {
		latest, ok := cp.Latest()
		if !ok {
			return tlog.Signed{}, fmt.Errorf("signing a checkpoint for the export: %w", err)
		}
		fmt.Fprintf(stderr, "stigaudit: WARNING: no new checkpoint signed (%v); exporting up to the last signed one, size %d\n", err, latest.Size)
		s = latest
	}
	return s, nil
}

// checkpointerRole is the pgstore.Leader role whose holder stores the
// checkpoints of a PostgreSQL log: the one startSigning campaigns for in
// every serve replica, and the one a local export must hold to sign.
const checkpointerRole = "checkpointer"

// exportTime turns an RFC 3339 time into the fixed-width form events are
// stamped with, rounded up to the microsecond like the HTTP reads do.
func exportTime(name, v string) (string, error) {
	if v == "" {
		return "", nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return "", fmt.Errorf("%w: --%s must be an RFC 3339 time such as 2026-05-03T12:00:00Z", errUsage, name)
	}
	t = t.UTC()
	if tr := t.Truncate(time.Microsecond); !tr.Equal(t) {
		t = tr.Add(time.Microsecond)
	}
	return t.Format(event.TSLayout), nil
}
