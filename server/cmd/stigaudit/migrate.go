package main

import (
	"context"
	"fmt"
	"io"
)

// cmdMigrate applies the embedded migrations (opening the store does) and
// reports the schema version.
func cmdMigrate(ctx context.Context, args []string, _, stderr io.Writer) error {
	var c common
	fs := newFlagSet("migrate")
	c.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	store, err := c.openStore(ctx, storeOptions{})
	if err != nil {
		return err
	}
	if err := store.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "migrations applied to %s\n", c.databaseName())
	return nil
}
