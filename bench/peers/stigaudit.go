package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
)

// storeOptions are the SQLite store's options for every stigaudit peer:
// synchronous=FULL spelled out, so an acknowledged event survives power
// loss whatever the default becomes.
var storeOptions = sqlitestore.Options{Synchronous: "FULL"}

// inProcess is stigaudit linked into the writer: stigaudit.Open over
// hostfns/sqlitestore, one Emit per event.
var inProcess = peer{
	Name:    "stigaudit in process",
	PerCall: 1,
	Open: func(ctx context.Context, dir string) (*session, error) {
		st, err := sqlitestore.Open(filepath.Join(dir, "stigaudit.db"), storeOptions)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: %w", err)
		}
		l, err := stigaudit.Open(stigaudit.Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("stigaudit: %w", err)
		}
		return &session{
			Call: func(ctx context.Context, w, i int) error {
				_, err := l.Emit(ctx, draft(newSample(w, i)))
				return err
			},
			Close: func() error { return closeBoth(l.Close, st.Close) },
		}, nil
	},
}

// draft is the sample as a library caller hands it to Emit.
func draft(s sample) event.Draft {
	return event.Draft{
		Type:          s.Type,
		Tenant:        s.Tenant,
		EntityURI:     s.EntityURI,
		FactID:        s.FactID,
		Source:        s.Source,
		AttestedKeyID: s.AttestedKeyID,
		Detail:        s.Detail,
	}
}

// closeBoth calls both closers and returns the first error.
func closeBoth(first, second func() error) error {
	err1, err2 := first(), second()
	if err1 != nil {
		return err1
	}
	return err2
}
