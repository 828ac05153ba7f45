package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/server/datadir"
	"github.com/stigaudit/stigaudit/server/tlog"
)

const checkpointKeyUsage = `usage: stigaudit keys checkpoint-key [--data-dir D] [--node N] [--origin O] [--all]

Prints the log's checkpoint verifier key <name>+<hash>+<base64> alone on
standard output, for 'stigaudit verify --verifier-key' and for clients. The signing
key (D/checkpoint.key) is created if the server has not made it yet.`

// nodeFlag and originFlag are the usages of --node and --origin, shared by
// serve and checkpoint-key.
const (
	nodeFlag   = "node name: a new log's origin is stigaudit/<node>/<8 random hex> unless --origin is set (env STIGAUDIT_NODE)"
	originFlag = "the log's origin, the name its checkpoints are signed under, e.g. audit.example.com/prod; default: generated for a new log, kept by an existing one (env STIGAUDIT_ORIGIN)"
)

func cmdCheckpointKey(args []string, stdout, stderr io.Writer) error {
	var dataDir, node, origin string
	var all bool
	fs := newFlagSet("keys checkpoint-key")
	fs.StringVar(&dataDir, "data-dir", "./data", "directory for the SQLite file, keys and salts (env STIGAUDIT_DATA_DIR)")
	fs.StringVar(&node, "node", tlog.DefaultNode, nodeFlag)
	fs.StringVar(&origin, "origin", "", originFlag)
	fs.BoolVar(&all, "all", false, "print every verifier key the log has signed with, each with the tree sizes it signs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	k, err := tlog.LoadOrCreateKeyFor(dataDir, tlog.KeyOptions{Node: node, Origin: origin, Rand: rand.Reader})
	if err != nil {
		return err
	}
	if !all {
		fmt.Fprintln(stdout, k.VerifierKey)
		return nil
	}
	h, err := tlog.HistoryOf(dataDir)
	if err != nil {
		return err
	}
	for _, hk := range h.Keys {
		until := "-"
		if hk.UntilSize != nil {
			until = strconv.FormatUint(*hk.UntilSize, 10)
		}
		fmt.Fprintf(stdout, "%s from_size=%d until_size=%s\n", hk.VerifierKey, hk.FromSize, until)
	}
	return nil
}

const rotateUsage = `usage: stigaudit keys rotate-checkpoint-key [--data-dir D] [--retire-old]

Without --retire-old: adds a new Ed25519 checkpoint key (D/checkpoint.key.next,
same origin); from the next checkpoint on, checkpoints carry both signatures.
Prints the new verifier key. Give it to verifiers, then:

With --retire-old: once the latest checkpoint carries the new key's
signature, retires the old key (kept as checkpoint.key.retired-*), records
the last size it signed in D/checkpoint.keys.json, and records a
key_rotation event in the log. A running server picks both steps up at its
next signature. With PostgreSQL replicas, copy the key files to every
replica's data directory before retiring.`

func cmdRotateCheckpointKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	var retire bool
	fs := newFlagSet("keys rotate-checkpoint-key")
	c.register(fs)
	fs.BoolVar(&retire, "retire-old", false, "retire the old key once the new one signs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	latest, ok, err := tlog.PinIn(c.dataDir).Load()
	if err != nil {
		return err
	}
	if !retire {
		next, err := tlog.Rotate(c.dataDir, latest.Size, rand.Reader)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, next.VerifierKey)
		fmt.Fprintf(stderr, "added %s/%s: checkpoints after size %d carry both signatures; retire the old key with --retire-old once verifiers have the new one\n", c.dataDir, tlog.NextKeyFile, latest.Size)
		return nil
	}
	if !ok {
		return fmt.Errorf("no checkpoint is pinned in %s yet: start the server so that it signs with the new key, then retire", c.dataDir)
	}
	old, next, until, err := tlog.Retire(c.dataDir, latest)
	if err != nil {
		return err
	}
	store, err := c.openStore(ctx, storeOptions{})
	if err != nil {
		return err
	}
	defer store.Close()
	log, err := stigaudit.Open(stigaudit.Options{Store: store})
	if err != nil {
		return err
	}
	defer log.Close()
	detail := []byte(`{"retired_key":`)
	detail = jcs.AppendString(detail, old.VerifierKey)
	detail = append(detail, `,"key":`...)
	detail = jcs.AppendString(detail, next.VerifierKey)
	detail = append(detail, `,"until_size":`...)
	detail = strconv.AppendUint(detail, until, 10)
	detail = append(detail, '}')
	if _, err := log.Emit(ctx, event.Draft{Type: "key_rotation", Tenant: "default", EntityURI: cliActor(), Emitter: "urn:stigaudit:cli", Detail: detail}); err != nil {
		return fmt.Errorf("the old key is retired, but the key_rotation event could not be recorded: %w", err)
	}
	fmt.Fprintf(stdout, "retired %s (signed up to size %d); %s signs from now on\n", old.VerifierKey, until, next.VerifierKey)
	return nil
}

// startCheckpointer loads (or on first start creates) the checkpoint key,
// starts the Checkpointer of a SQLite log and returns it with the key; call
// stopCheckpointer before closing the store. A log that does not extend
// the checkpoint pinned in the data directory, or whose key is missing
// while it has signed, is an error: the server does not start.
func startCheckpointer(ctx context.Context, dataDir, node, origin string, onPublish func(tlog.Signed), store backend, reg prometheus.Registerer, logger *slog.Logger) (*tlog.Checkpointer, *tlog.Key, error) {
	key, err := signingKey(ctx, dataDir, node, origin, store.checkpoints(nil), false)
	if err != nil {
		return nil, nil, err
	}
	ring, err := tlog.NewRing(dataDir, key)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint keys: %w", err)
	}
	cp, err := tlog.New(ctx, tlog.Config{Tree: store, Checkpoints: store.checkpoints(nil), Pin: tlog.PinIn(dataDir), Key: key, Ring: ring, Logger: logger, Registerer: reg, OnPublish: onPublish})
	if err != nil {
		return nil, nil, fmt.Errorf("checkpointer: %w", err)
	}
	if err := refusal(cp, dataDir, false); err != nil {
		return nil, nil, err
	}
	cp.Start()
	logger.Info("signing checkpoints", slog.String("origin", key.Origin), slog.String("verifier_key", key.VerifierKey))
	return cp, key, nil
}

// signingKey returns the data directory's checkpoint key, creating it only
// for a log that has never signed: a new key for a log with signed
// checkpoints (pinned in the data directory, or stored in the database)
// could not extend its history, so its absence is an error that says what
// to do.
func signingKey(ctx context.Context, dataDir, node, origin string, stored tlog.Checkpoints, postgres bool) (*tlog.Key, error) {
	_, err := tlog.LoadKey(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		signed, ok, perr := tlog.PinIn(dataDir).Load()
		if perr != nil {
			return nil, perr
		}
		if !ok {
			if signed, ok, err = stored.Latest(ctx); err != nil {
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
	fix := "locate the damage with 'stigaudit verify --data-dir " + dataDir + "', restore a copy of the database that holds the whole signed log, or start a new log with: " + fmt.Sprintf(datadir.RecoverCommand, dataDir)
	if postgres {
		fix = "locate the damage with 'stigaudit verify --database-url <database-url>' and restore a database that holds the whole signed log"
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
