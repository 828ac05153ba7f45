// Package pgtest gives tests a private PostgreSQL schema, or a PostgreSQL
// server of their own (NewCluster) that they may stop and start.
//
// Tests that need PostgreSQL call DSN: it skips the test with a message
// unless STIGAUDIT_TEST_PG_DSN names a server (CI sets it; with
// STIGAUDIT_REQUIRE_PG=1 the test fails instead), creates a schema
// with a random name, returns a DSN whose search_path selects it, and drops
// the schema when the test ends. Parallel and successive runs against one
// database therefore never see each other's tables.
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.DSN(t)
//		s, err := pgstore.Open(ctx, dsn, pgstore.Options{})
//		...
//	}
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN is the environment variable naming the test server, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvDSN = "STIGAUDIT_TEST_PG_DSN"

// EnvRequire, set to 1, turns every skip of this package into a failure:
// a CI run that must test PostgreSQL cannot pass by skipping it.
const EnvRequire = "STIGAUDIT_REQUIRE_PG"

// skip skips t with msg, or fails it when EnvRequire is 1.
func skip(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("%s (and %s=1 requires it)", msg, EnvRequire)
	}
	t.Skip(msg)
}

// DSN returns a DSN for a new, empty schema of the test database, dropped
// (with everything in it) when t and its subtests end. Without EnvDSN the
// test is skipped (fails with EnvRequire=1).
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		skip(t, "PostgreSQL test skipped: set "+EnvDSN+" (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run it")
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "stigaudit_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", EnvDSN, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("pgtest: creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: connecting to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("pgtest: dropping schema %s: %v", schema, err)
		}
	})
	return WithSchema(t, base, schema)
}

// WithSchema returns dsn with its search_path set to schema.
func WithSchema(t testing.TB, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("pgtest: %s is not a URL: %v", EnvDSN, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}
