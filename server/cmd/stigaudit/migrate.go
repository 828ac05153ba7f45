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
	fs := newFlagSet("migrate", stderr)
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
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
