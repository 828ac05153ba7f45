package main

import (
	"context"
	"fmt"
	"io"
	"os/user"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"

	"github.com/stigaudit/stigaudit/server/auth"
)

// cmdKeys runs 'stigaudit keys SUB': args[0] is the subcommand.
func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: a keys command is required", errUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "checkpoint-key":
		return cmdCheckpointKey(args, stdout, stderr)
	case "rotate-checkpoint-key":
		return cmdRotateCheckpointKey(ctx, args, stdout, stderr)
	}
	var c common
	fs := newFlagSet("keys " + sub)
	c.register(fs)
	var spec auth.Spec
	var perms, expires string
	switch sub {
	case "create":
		fs.StringVar(&spec.Tenant, "tenant", "default", "tenant of the key")
		fs.StringVar(&spec.EntityURI, "entity", "", "the key's principal (entity_uri); required")
		fs.StringVar(&perms, "perm", "", "comma-separated permissions; required")
		fs.StringVar(&spec.OIDCSub, "oidc-sub", "", "OIDC subject recorded on events")
		fs.StringVar(&spec.Label, "label", "", "free-text note")
		fs.StringVar(&expires, "expires", "", "the key stops working after this: a duration from now (90d, 12h, 30m) or an RFC 3339 time; default never")
	case "list", "revoke":
	default:
		return fmt.Errorf("%w: unknown keys command %q", errUsage, sub)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if sub != "revoke" && fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if expires != "" {
		at, err := parseExpiry(expires, time.Now())
		if err != nil {
			return fmt.Errorf("%w: --expires: %v", errUsage, err)
		}
		spec.ExpiresAt = at
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
	keys := auth.New(store.APIKeys(), auth.Options{})
	switch sub {
	case "create":
		if spec.EntityURI == "" || perms == "" {
			return fmt.Errorf("%w: --entity and --perm are required", errUsage)
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
		fmt.Fprintln(tw, "KEY_ID\tTENANT\tENTITY_URI\tPERMS\tCREATED\tEXPIRES\tREVOKED\tLABEL")
		now := time.Now()
		for _, k := range list {
			revoked, expiry := "-", "never"
			if k.Revoked() {
				revoked = k.RevokedAt.UTC().Format(time.RFC3339)
			}
			if !k.ExpiresAt.IsZero() {
				expiry = k.ExpiresAt.UTC().Format(time.RFC3339)
				if k.Expired(now) {
					expiry += " (expired)"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Tenant, k.EntityURI, k.Perms,
				k.CreatedAt.UTC().Format(time.RFC3339), expiry, revoked, k.Label)
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
	if !k.ExpiresAt.IsZero() {
		detail = append(detail, `,"expires_at":`...)
		detail = jcs.AppendString(detail, k.ExpiresAt.UTC().Format(time.RFC3339))
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

// maxKeyLifetime bounds --expires: far beyond any rotation policy, and
// well inside what time.Time arithmetic represents.
const maxKeyLifetime = 100 * 365 * 24 * time.Hour

// parseExpiry reads --expires: a duration from now in days (90d), hours
// (12h) or minutes (30m), or an RFC 3339 time. It must lie in the future
// and within 100 years.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if at, err := time.Parse(time.RFC3339, s); err == nil {
		if !at.After(now) {
			return time.Time{}, fmt.Errorf("%s is not in the future", s)
		}
		if at.Sub(now) > maxKeyLifetime {
			return time.Time{}, fmt.Errorf("%s is more than 100 years away", s)
		}
		return at.UTC(), nil
	}
	if len(s) < 2 {
		return time.Time{}, fmt.Errorf("%q is neither a duration such as 90d, 12h or 30m nor an RFC 3339 time", s)
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute}[s[len(s)-1]]
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if unit == 0 || err != nil || n <= 0 {
		return time.Time{}, fmt.Errorf("%q is neither a duration such as 90d, 12h or 30m nor an RFC 3339 time", s)
	}
	if n > int64(maxKeyLifetime/unit) {
		return time.Time{}, fmt.Errorf("%s is more than 100 years", s)
	}
	return now.Add(time.Duration(n) * unit).UTC(), nil
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
