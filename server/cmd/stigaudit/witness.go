package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stigaudit/stigaudit/server/exportapi"
	"github.com/stigaudit/stigaudit/server/tlog"
	"github.com/stigaudit/stigaudit/server/witness"
)

// witnessing is serve's witness client, or nothing without --witness-policy:
// its methods are then no-ops and the checkpoint route serves the newest
// signed checkpoint.
type witnessing struct {
	w *witness.Witnessing
}

// startWitnessing reads the policy file and starts the witness client.
//
// active says whether this process talks to the witnesses (nil: always);
// shared, if set, is where the active one stores what reached the quorum
// for the other PostgreSQL replicas to serve.
func startWitnessing(policyFile string, tree tlog.Tree, reg prometheus.Registerer, logger *slog.Logger, active func() bool, shared witness.Shared) (witnessing, error) {
	if policyFile == "" {
		return witnessing{}, nil
	}
	text, err := os.ReadFile(policyFile)
	if err != nil {
		return witnessing{}, fmt.Errorf("--witness-policy: %w", err)
	}
	p, err := witness.ParsePolicy(text)
	if err != nil {
		return witnessing{}, fmt.Errorf("--witness-policy %s: %w", policyFile, err)
	}
	w, err := witness.New(witness.Config{Policy: p, Tree: tree, Logger: logger, Registerer: reg, Active: active, Shared: shared})
	if err != nil {
		return witnessing{}, err
	}
	names := make([]string, len(p.Witnesses))
	for i, x := range p.Witnesses {
		names[i] = x.Name + " " + x.URL
	}
	logger.Info("checkpoints go to witnesses", slog.String("policy", policyFile), slog.Any("witnesses", names))
	return witnessing{w: w}, nil
}

// Submit hands a published checkpoint to the witnesses.
func (w witnessing) Submit(s tlog.Signed) {
	if w.w != nil {
		w.w.Submit(s)
	}
}

// Ready is the witnesses' readiness check.
func (w witnessing) Ready(ctx context.Context) error {
	if w.w == nil {
		return nil
	}
	return w.w.Ready(ctx)
}

// Witnessed returns what the checkpoint route serves by default, or nil
// without a policy.
func (w witnessing) Witnessed() func() ([]byte, bool) {
	if w.w == nil {
		return nil
	}
	return func() ([]byte, bool) {
		c, ok := w.w.Latest()
		return c.Note, ok
	}
}

// WitnessedSized is Witnessed with the checkpoint's size, for receipts.
func (w witnessing) WitnessedSized() func() ([]byte, uint64, bool) {
	if w.w == nil {
		return nil
	}
	return func() ([]byte, uint64, bool) {
		c, ok := w.w.Latest()
		return c.Note, c.Size, ok
	}
}

// ExportSigner is what exports end with: without witnesses the
// checkpointer's fresh checkpoint; with them the newest witnessed
// checkpoint once it covers that one (waiting up to exportWitnessWait), so
// that `verify --witness-policy` passes on the export. If the witnesses do
// not cosign in time the export ends with the signed checkpoint alone.
func (w witnessing) ExportSigner(cp *tlog.Checkpointer) exportapi.Signer {
	if w.w == nil {
		return cp
	}
	return witnessedSigner{cp: cp, w: w.w}
}

// exportWitnessWait bounds how long an export waits for its checkpoint's
// cosignatures.
const exportWitnessWait = 5 * time.Second

type witnessedSigner struct {
	cp *tlog.Checkpointer
	w  *witness.Witnessing
}

func (s witnessedSigner) Sync(ctx context.Context) (tlog.Signed, error) {
	signed, err := s.cp.Sync(ctx)
	if err != nil {
		return signed, err
	}
	deadline := time.NewTimer(exportWitnessWait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, ok := s.w.Latest(); ok && c.Size >= signed.Size {
			out := c.Signed
			out.Note = c.Note
			return out, nil
		}
		select {
		case <-ctx.Done():
			return tlog.Signed{}, ctx.Err()
		case <-deadline.C:
			return signed, nil
		case <-tick.C:
		}
	}
}

// Close stops the client.
func (w witnessing) Close() {
	if w.w != nil {
		w.w.Close()
	}
}
