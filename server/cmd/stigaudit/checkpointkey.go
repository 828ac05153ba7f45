package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server/datadir"
	"github.com/stigaudit/stigaudit/server/tlog"
)

const checkpointKeyUsage = `usage: stigaudit keys checkpoint-key [--data-dir D] [--node N] [--origin O]

Prints the log's checkpoint verifier key <name>+<hash>+<base64> alone on
standard output, for 'stigaudit verify --key' and for clients. The signing
key (D/checkpoint.key) is created if the server has not made it yet.`

// nodeFlag and originFlag are the usages of --node and --origin, shared by
// serve and checkpoint-key.
const (
	nodeFlag   = "node name: a new log's origin is stigaudit/<node>/<8 random hex> unless --origin is set (STIGAUDIT_NODE)"
	originFlag = "the log's origin, the name its checkpoints are signed under, e.g. audit.example.com/prod; default: generated for a new log, kept by an existing one (STIGAUDIT_ORIGIN)"
)

func cmdCheckpointKey(args []string, stdout, stderr io.Writer) error {
	var dataDir, node, origin string
	fs := newFlagSet("keys checkpoint-key", stderr)
	fs.StringVar(&dataDir, "data-dir", env("STIGAUDIT_DATA_DIR", "./data"), "directory for the SQLite file, keys and salts (STIGAUDIT_DATA_DIR)")
	fs.StringVar(&node, "node", env("STIGAUDIT_NODE", tlog.DefaultNode), nodeFlag)
	fs.StringVar(&origin, "origin", env("STIGAUDIT_ORIGIN", ""), originFlag)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q\n%s", errUsage, fs.Arg(0), checkpointKeyUsage)
	}
	k, err := tlog.LoadOrCreateKeyFor(dataDir, tlog.KeyOptions{Node: node, Origin: origin, Rand: rand.Reader})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, k.VerifierKey)
	return nil
}

// startCheckpointer loads (or on first start creates) the checkpoint key,
// starts the Checkpointer of a SQLite log and returns it; call
// stopCheckpointer before closing the store. A log that does not extend
// the checkpoint pinned in the data directory, or whose key is missing
// while it has signed, is an error: the server does not start.
func startCheckpointer(ctx context.Context, dataDir, node, origin string, onPublish func(tlog.Signed), store *sqlitestore.Store, reg prometheus.Registerer, logger *slog.Logger) (*tlog.Checkpointer, error) {
	key, err := signingKey(ctx, dataDir, node, origin, store.DB(), false)
	if err != nil {
		return nil, err
	}
	cp, err := tlog.New(ctx, tlog.Config{Tree: store, Checkpoints: tlog.NewSQLite(store.DB()), Pin: tlog.PinIn(dataDir), Key: key, Logger: logger, Registerer: reg, OnPublish: onPublish})
	if err != nil {
		return nil, fmt.Errorf("checkpointer: %w", err)
	}
	if err := refusal(cp, dataDir, false); err != nil {
		return nil, err
	}
	cp.Start()
	logger.Info("signing checkpoints", slog.String("origin", key.Origin), slog.String("verifier_key", key.VerifierKey))
	return cp, nil
}

// signingKey returns the data directory's checkpoint key, creating it only
// for a log that has never signed: a new key for a log with signed
// checkpoints (pinned in the data directory, or stored in the database)
// could not extend its history, so its absence is an error that says what
// to do.
func signingKey(ctx context.Context, dataDir, node, origin string, db *sql.DB, postgres bool) (*tlog.Key, error) {
	_, err := tlog.LoadKey(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		signed, ok, perr := tlog.PinIn(dataDir).Load()
		if perr != nil {
			return nil, perr
		}
		if !ok {
			if signed, ok, err = tlog.LatestIn(ctx, db); err != nil {
				return nil, err
			}
		}
		if ok {
			fix := "restore it from a backup, or start a new log with: " + fmt.Sprintf(datadir.RecoverCommand, dataDir)
			if postgres {
				fix = "copy it from another replica's data directory, or restore it from a backup"
			}
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig,
				"%s is missing but this log has signed checkpoints up to size %d (root %x); a new key cannot extend that history: %s",
				filepath.Join(dataDir, tlog.KeyFile), signed.Size, signed.Root, fix)
		}
	} else if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	key, err := tlog.LoadOrCreateKeyFor(dataDir, tlog.KeyOptions{Node: node, Origin: origin, Rand: rand.Reader})
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	return key, nil
}

// refusal turns a Checkpointer that refuses to sign from the start into
// the error that stops serve: its reason names the signed size and root and
// what the database holds.
func refusal(cp *tlog.Checkpointer, dataDir string, postgres bool) error {
	err := cp.Err()
	if err == nil {
		return nil
	}
	fix := "locate the damage with 'stigaudit verify --db', restore a copy of the database that holds the whole signed log, or start a new log with: " + fmt.Sprintf(datadir.RecoverCommand, dataDir)
	if postgres {
		fix = "locate the damage with 'stigaudit verify --db <database-url>' and restore a database that holds the whole signed log"
	}
	return fmt.Errorf("refusing to start, this would sign a second history: %w; %s", err, fix)
}

// stopCheckpointer signs a last checkpoint covering the whole log.
func stopCheckpointer(cp *tlog.Checkpointer, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cp.Stop(ctx); err != nil {
		logger.Error("final checkpoint not signed", slog.String("error", err.Error()))
	}
}
