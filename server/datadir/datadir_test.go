package datadir_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/server/datadir"
)

func TestPermissions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dirMode os.FileMode
		file    string
		mode    os.FileMode
		want    string // "" accepts
	}{
		{"private", 0o700, "admin.key", 0o600, ""},
		{"group-readable dir is fine", 0o750, "checkpoint.key", 0o600, ""},
		{"world-writable dir", 0o777, "", 0, "chmod go-w"},
		{"group-writable dir", 0o770, "", 0, "chmod go-w"},
		{"admin key readable by others", 0o700, "admin.key", 0o644, "chmod 600"},
		{"signing key readable by group", 0o700, "checkpoint.key", 0o640, "chmod 600"},
		{"salt writable by others", 0o700, "redact.salt", 0o602, "chmod 600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(dir, tc.file), []byte("x\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(filepath.Join(dir, tc.file), tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(dir, tc.dirMode); err != nil {
				t.Fatal(err)
			}
			d, err := datadir.Open(dir, datadir.Options{})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				d.Close()
				return
			}
			if !errors.Is(err, auditerr.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want invalid_config saying %q", err, tc.want)
			}
		})
	}
}

func TestSecondServerIsRefused(t *testing.T) {
	dir := t.TempDir()
	a, err := datadir.Open(dir, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = datadir.Open(dir, datadir.Options{})
	if !errors.Is(err, datadir.ErrInUse) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), "--allow-shared-data-dir") {
		t.Fatalf("second Open = %v, want in use by pid %d", err, os.Getpid())
	}
	shared, err := datadir.Open(dir, datadir.Options{Shared: true})
	if err != nil {
		t.Fatalf("shared Open: %v", err)
	}
	shared.Close()
	a.Close()
	b, err := datadir.Open(dir, datadir.Options{})
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	b.Close()
}

func TestCheckHistoryAndAbandon(t *testing.T) {
	dir := t.TempDir()
	if err := datadir.CheckHistory(dir); err != nil {
		t.Fatalf("an empty directory: %v", err)
	}
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(datadir.KeyFile) // a key alone: nothing was signed or started
	if err := datadir.CheckHistory(dir); err != nil {
		t.Fatalf("a key without a log: %v", err)
	}
	write(datadir.PinFile)
	write(datadir.AdminKeyFile)
	err := datadir.CheckHistory(dir)
	if !errors.Is(err, auditerr.ErrVerifyFailed) || !strings.Contains(err.Error(), "stigaudit recover --data-dir "+dir+" --start-new-log") {
		t.Fatalf("CheckHistory without the database = %v", err)
	}
	write(datadir.DBFile)
	if err := datadir.CheckHistory(dir); err != nil {
		t.Fatalf("with the database: %v", err)
	}
	write("redact.salt")

	to, err := datadir.Abandon(dir, time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(to) != "abandoned-20261207T100000Z" {
		t.Fatalf("abandoned to %s", to)
	}
	for _, name := range []string{datadir.KeyFile, datadir.PinFile, datadir.AdminKeyFile, datadir.DBFile} {
		if b, err := os.ReadFile(filepath.Join(to, name)); err != nil || string(b) != name {
			t.Errorf("%s not moved whole: %q %v", name, b, err)
		}
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still in the data directory", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "redact.salt")); err != nil {
		t.Errorf("the node's salt moved with the log: %v", err)
	}
	if err := datadir.CheckHistory(dir); err != nil {
		t.Fatalf("after abandoning: %v", err)
	}
	if _, err := datadir.Abandon(dir, time.Now()); !errors.Is(err, auditerr.ErrInvalidConfig) {
		t.Fatalf("abandoning an empty directory: %v", err)
	}
}
