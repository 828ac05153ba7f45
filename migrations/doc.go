// Package migrations holds stigaudit's database schema as numbered SQL files,
// embedded in the binary, and the runner that applies them.
//
// A schema change is a new file NNNN_name.sql in the dialect's directory
// (sqlite/ or postgres/); files are never edited once released. The
// runner applies the files the database has not seen yet in order, each in
// its own transaction together with its row in schema_migrations, so a crash
// leaves the database at a whole version, never between two.
//
// The highest recorded version is checked first: a database written by a
// newer stigaudit (one that knows more migrations than this binary) is
// refused with auditerr.ErrSchemaTooNew rather than used half-understood. The
// operator's remedy is to run the newer binary, or restore a backup made
// before the upgrade.
//
// Use:
//
//	if err := migrations.Apply(ctx, db, migrations.SQLiteFiles(), migrations.SQLite); err != nil {
//		return err
//	}
package migrations
