package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/stigaudit/stigaudit/server/datadir"
)

const recoverUsage = `usage: stigaudit recover [--data-dir D] --start-new-log

When serve refuses to start because the log in D no longer extends what it
signed (its database was deleted, truncated or restored from an older copy)
or its signing key is lost, this is the explicit way to begin again: the old
log's files (database, signing key, pinned checkpoint, admin key) move,
whole, to D/abandoned-<time>/, where they stay readable as evidence
('stigaudit verify --data-dir D/abandoned-<time> --verifier-key OLD_KEY').
The next 'stigaudit serve' starts a new log with a new signing key and a
new admin key. Verifiers must be given the new verifier key. Refused while
a server holds D.`

func cmdRecover(_ context.Context, args []string, stdout, _ io.Writer) error {
	var dataDir string
	var startNew bool
	fs := newFlagSet("recover")
	fs.StringVar(&dataDir, "data-dir", "./data", "the data directory (env STIGAUDIT_DATA_DIR)")
	fs.BoolVar(&startNew, "start-new-log", false, "move the old log aside and let the next start begin a new one")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || !startNew {
		return fmt.Errorf("%w: recover needs --start-new-log", errUsage)
	}
	dir, err := datadir.Open(dataDir, datadir.Options{})
	if err != nil {
		return err
	}
	defer dir.Close()
	to, err := datadir.Abandon(dataDir, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "the old log is in %s\nthe next 'stigaudit serve --data-dir %s' starts a new log with a new signing key and admin key\n", to, dataDir)
	return nil
}
