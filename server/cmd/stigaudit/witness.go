package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

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
func startWitnessing(policyFile string, tree tlog.Tree, reg prometheus.Registerer, logger *slog.Logger) (witnessing, error) {
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
	w, err := witness.New(witness.Config{Policy: p, Tree: tree, Logger: logger, Registerer: reg})
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

// Close stops the client.
func (w witnessing) Close() {
	if w.w != nil {
		w.w.Close()
	}
}
