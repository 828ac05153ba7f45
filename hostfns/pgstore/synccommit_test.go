package pgstore_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

// The README promises that the server refuses synchronous_commit=off: with
// it PostgreSQL acknowledges a commit before it is durable, and an
// acknowledged event could be lost in a crash.
func TestRefusesSynchronousCommitOff(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, setting := range []string{"off", "local"} {
		q := u.Query()
		q.Set("options", "-c synchronous_commit="+setting)
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // libpq reads %20, not +, as a space
		s, err := pgstore.Open(ctx, u.String(), pgstore.Options{})
		if err == nil {
			_, err = s.Append(ctx, storetest.NewEvents(0, 1))
			s.Close()
		}
		if setting == "off" {
			if !errors.Is(err, auditerr.ErrInvalidConfig) || !strings.Contains(err.Error(), "synchronous_commit") {
				t.Fatalf("synchronous_commit=off: %v; want invalid_config naming the setting", err)
			}
			continue
		}
		// "local" still flushes the primary's WAL before acknowledging.
		if err != nil {
			t.Fatalf("synchronous_commit=local: %v", err)
		}
	}
}
