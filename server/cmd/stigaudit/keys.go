package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server/auth"
)

const keysUsage = `usage:
  stigaudit keys create [--data-dir D] --tenant T --entity URI --perm p1,p2 [--oidc-sub S] [--label L]
  stigaudit keys list [--data-dir D]
  stigaudit keys revoke [--data-dir D] KEY_ID
permissions: audit.write, read, audit.read, admin`

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, keysUsage)
	}
	sub, args := args[0], args[1:]
	var c common
	fs := newFlagSet("keys "+sub, stderr)
	c.register(fs)
	var spec auth.Spec
	var perms string
	switch sub {
	case "create":
		fs.StringVar(&spec.Tenant, "tenant", "default", "tenant of the key")
		fs.StringVar(&spec.EntityURI, "entity", "", "the key's principal (entity_uri); required")
		fs.StringVar(&perms, "perm", "", "comma-separated permissions; required")
		fs.StringVar(&spec.OIDCSub, "oidc-sub", "", "OIDC subject recorded on events")
		fs.StringVar(&spec.Label, "label", "", "free-text note")
	case "list", "revoke":
	default:
		return fmt.Errorf("%w: unknown keys command %q\n%s", errUsage, sub, keysUsage)
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	store, err := c.openSQLite(sqlitestore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	keys := auth.New(store.DB(), auth.Options{})
	switch sub {
	case "create":
		if spec.EntityURI == "" || perms == "" {
			return fmt.Errorf("%w: --entity and --perm are required\n%s", errUsage, keysUsage)
		}
		if spec.Perms, err = auth.ParsePerms(perms); err != nil {
			return err
		}
		plain, _, err := keys.Create(ctx, spec)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, plain)
	case "list":
		list, err := keys.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY_ID\tTENANT\tENTITY_URI\tPERMS\tCREATED\tREVOKED\tLABEL")
		for _, k := range list {
			revoked := "-"
			if k.Revoked() {
				revoked = k.RevokedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Tenant, k.EntityURI, k.Perms,
				k.CreatedAt.UTC().Format(time.RFC3339), revoked, k.Label)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: keys revoke takes exactly one KEY_ID", errUsage)
		}
		if err := keys.Revoke(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "revoked %s\n", fs.Arg(0))
	}
	return nil
}
