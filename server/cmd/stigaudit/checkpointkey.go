package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server/tlog"
)

const checkpointKeyUsage = `usage: stigaudit keys checkpoint-key [--data-dir D] [--node N]

Prints the log's checkpoint verifier key <name>+<hash>+<base64> alone on
standard output, for 'stigaudit verify --key' and for clients. The signing
key (D/checkpoint.key) is created if the server has not made it yet.`

// nodeFlag is the usage of --node, shared by serve and checkpoint-key.
const nodeFlag = "node name: the log's origin and key name are stigaudit/<node> (STIGAUDIT_NODE)"

func cmdCheckpointKey(args []string, stdout, stderr io.Writer) error {
	var dataDir, node string
	fs := newFlagSet("keys checkpoint-key", stderr)
	fs.StringVar(&dataDir, "data-dir", env("STIGAUDIT_DATA_DIR", "./data"), "directory for the SQLite file, keys and salts (STIGAUDIT_DATA_DIR)")
	fs.StringVar(&node, "node", env("STIGAUDIT_NODE", tlog.DefaultNode), nodeFlag)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q\n%s", errUsage, fs.Arg(0), checkpointKeyUsage)
	}
	k, err := tlog.LoadOrCreateKey(dataDir, node, rand.Reader)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, k.VerifierKey)
	return nil
}

// startCheckpointer loads (or on first start creates) the checkpoint key,
// and starts signing checkpoints of store. serve stops it with
// stopCheckpointer before closing the store.
func startCheckpointer(ctx context.Context, dataDir, node string, store *sqlitestore.Store, reg prometheus.Registerer, logger *slog.Logger) (*tlog.Checkpointer, error) {
	key, err := tlog.LoadOrCreateKey(dataDir, node, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	cp, err := tlog.New(ctx, tlog.Config{Tree: store, Checkpoints: tlog.NewSQLite(store.DB()), Key: key, Logger: logger, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("checkpointer: %w", err)
	}
	cp.Start()
	logger.Info("signing checkpoints", slog.String("origin", key.Origin), slog.String("verifier_key", key.VerifierKey))
	return cp, nil
}

// stopCheckpointer signs a last checkpoint covering the whole log.
func stopCheckpointer(cp *tlog.Checkpointer, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cp.Stop(ctx); err != nil {
		logger.Error("final checkpoint not signed", slog.String("error", err.Error()))
	}
}
