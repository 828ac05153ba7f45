package main

import (
	"context"
	"fmt"
	"io"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"

	"github.com/stigaudit/stigaudit/server/auth"
)

const keysUsage = `usage:
  stigaudit keys create [--data-dir D] --tenant T --entity URI --perm p1,p2 [--oidc-sub S] [--label L]
  stigaudit keys list [--data-dir D]
  stigaudit keys revoke [--data-dir D] KEY_ID
  stigaudit keys checkpoint-key [--data-dir D] [--node N] [--all]
  stigaudit keys rotate-checkpoint-key [--data-dir D] [--retire-old]
permissions: audit.write, read, audit.read, admin`

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, keysUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "checkpoint-key":
		return cmdCheckpointKey(args, stdout, stderr)
	case "rotate-checkpoint-key":
		return cmdRotateCheckpointKey(ctx, args, stdout, stderr)
	}
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
	store, err := c.openStore(ctx, storeOptions{})
	if err != nil {
		return err
	}
	log, err := stigaudit.Open(stigaudit.Options{Store: store})
	if err != nil {
		store.Close()
		return err
	}
	defer log.Close()
	keys := auth.New(store.DB(), keysOptions(store))
	switch sub {
	case "create":
		if spec.EntityURI == "" || perms == "" {
			return fmt.Errorf("%w: --entity and --perm are required\n%s", errUsage, keysUsage)
		}
		if spec.Perms, err = auth.ParsePerms(perms); err != nil {
			return err
		}
		plain, key, err := keys.Create(ctx, spec)
		if err != nil {
			return err
		}
		// api_key_create is critical: a key whose creation is not audited
		// must not exist.
		if err := auditKeyEvent(ctx, log, "api_key_create", key, cliActor()); err != nil {
			if rerr := keys.Revoke(ctx, key.ID); rerr != nil {
				return fmt.Errorf("%w; revoking the unaudited key %s also failed: %v", err, key.ID, rerr)
			}
			return fmt.Errorf("key not created: %w", err)
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
		id := fs.Arg(0)
		key, err := findKey(ctx, keys, id)
		if err != nil {
			return err
		}
		if err := keys.Revoke(ctx, id); err != nil {
			return err
		}
		if err := auditKeyEvent(ctx, log, "api_key_revoke", key, cliActor()); err != nil {
			return fmt.Errorf("key revoked, but the revocation could not be audited: %w", err)
		}
		fmt.Fprintf(stderr, "revoked %s\n", fs.Arg(0))
	}
	return nil
}

// cliActor names the operator running the CLI as the acting principal.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "urn:stigaudit:cli:" + u.Username
	}
	return "urn:stigaudit:cli"
}

// auditKeyEvent records a key's creation or revocation in the key's tenant.
func auditKeyEvent(ctx context.Context, log *stigaudit.Log, typ string, k auth.Key, actor string) error {
	detail := []byte(`{"key_id":`)
	detail = jcs.AppendString(detail, k.ID)
	detail = append(detail, `,"entity_uri":`...)
	detail = jcs.AppendString(detail, k.EntityURI)
	detail = append(detail, `,"perms":`...)
	detail = jcs.AppendString(detail, k.Perms.String())
	if k.Label != "" {
		detail = append(detail, `,"label":`...)
		detail = jcs.AppendString(detail, k.Label)
	}
	detail = append(detail, '}')
	_, err := log.Emit(ctx, event.Draft{
		Type:      typ,
		Tenant:    k.Tenant,
		EntityURI: actor,
		Emitter:   "urn:stigaudit:cli",
		Detail:    detail,
	})
	return err
}

// findKey returns the stored key with this id.
func findKey(ctx context.Context, keys *auth.Keys, id string) (auth.Key, error) {
	list, err := keys.List(ctx)
	if err != nil {
		return auth.Key{}, err
	}
	for _, k := range list {
		if k.ID == id {
			return k, nil
		}
	}
	return auth.Key{}, auditerr.Errorf(auditerr.ErrNotFound, "no key with id %q", id)
}
