package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// tesseraPOSIX is transparency-dev/tessera v1.0.4's POSIX log used as a
// library appender. A zero batchAge keeps the shipped batching
// (tessera.DefaultBatchMaxSize entries or tessera.DefaultBatchMaxAge,
// 250 ms), otherwise batches are cut after batchAge; a zero checkpoint
// keeps the shipped checkpoint interval (10 s), which only delays the
// signed checkpoint and the end of each cell's shutdown, never an
// acknowledgement.
//
// A call counts once Add's index future resolves: the POSIX driver
// resolves it after the entry's bundle is written and fsynced and the
// entry is sequenced and integrated into the tree (its tree state file,
// fsynced too). A signed checkpoint is not waited for — it follows on
// tessera's checkpoint interval, just as stigaudit's signed checkpoint
// follows its commit — so both sides are acknowledged at the same point:
// durable, with a position in the Merkle tree.
func tesseraPOSIX(name string, batchAge, checkpoint time.Duration) peer {
	return peer{
		Name:    name,
		PerCall: 1,
		Open: func(ctx context.Context, dir string) (*session, error) {
			return openTessera(ctx, dir, batchAge, checkpoint)
		},
	}
}

func openTessera(ctx context.Context, dir string, batchAge, checkpoint time.Duration) (*session, error) {
	skey, _, err := note.GenerateKey(rand.Reader, "bench.example/peers")
	if err != nil {
		return nil, fmt.Errorf("note key: %w", err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("note signer: %w", err)
	}
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		return nil, fmt.Errorf("posix driver: %w", err)
	}
	opts := tessera.NewAppendOptions().WithCheckpointSigner(signer)
	if batchAge > 0 {
		opts = opts.WithBatching(tessera.DefaultBatchMaxSize, batchAge)
	}
	if checkpoint > 0 {
		opts = opts.WithCheckpointInterval(checkpoint)
	}
	actx, cancel := context.WithCancel(context.Background())
	app, shutdown, _, err := tessera.NewAppender(actx, driver, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("appender: %w", err)
	}
	return &session{
		Call: func(ctx context.Context, w, i int) error {
			if _, err := app.Add(ctx, tessera.NewEntry(newSample(w, i).JSON()))(); err != nil {
				return fmt.Errorf("add: %w", err)
			}
			return nil
		},
		Close: func() error {
			defer cancel()
			sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer scancel()
			if err := shutdown(sctx); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			return nil
		},
	}, nil
}
