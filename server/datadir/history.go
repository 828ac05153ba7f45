package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// File names of a data directory's log, as the packages that write them
// name them (sqlitestore's file as serve opens it, tlog.KeyFile,
// tlog.PinFile, auth.AdminKeyFile).
const (
	DBFile       = "stigaudit.db"
	KeyFile      = "checkpoint.key"
	PinFile      = "checkpoint.latest"
	AdminKeyFile = "admin.key"
)

// LogFiles are the files that belong to one log, and move together when it
// is abandoned. The salts stay: they belong to the node.
var LogFiles = []string{DBFile, DBFile + "-wal", DBFile + "-shm", KeyFile, PinFile, PinFile + ".lock", AdminKeyFile}

// RecoverCommand is what an operator runs to start a new log in a data
// directory whose log cannot go on; refusals name it.
const RecoverCommand = "stigaudit recover --data-dir %s --start-new-log"

// CheckHistory refuses to start a SQLite log in dir whose database file is
// missing while the directory shows the log existed: a pinned checkpoint
// (it signed something) or an admin key (it was started). Creating a new
// empty database there would silently begin a second history. The error
// wraps auditerr.ErrVerifyFailed.
func CheckHistory(dir string) error {
	if exists(filepath.Join(dir, DBFile)) {
		return nil
	}
	var found []string
	for _, name := range []string{PinFile, AdminKeyFile} {
		if exists(filepath.Join(dir, name)) {
			found = append(found, name)
		}
	}
	if len(found) == 0 {
		return nil
	}
	return auditerr.Errorf(auditerr.ErrVerifyFailed,
		"%s has no database file %s but holds %s of a log that was started before: the database was deleted or moved; put it back, or start a new log explicitly with: "+RecoverCommand,
		dir, DBFile, strings.Join(found, " and "), dir)
}

// Abandon moves the files of dir's log (LogFiles) into a new subdirectory
// abandoned-<UTC time> and returns its path. Nothing is deleted: the old
// log stays readable there (stigaudit verify --db, export --data-dir) as
// evidence. Take the directory's lock (Open) first.
func Abandon(dir string, now time.Time) (string, error) {
	to := filepath.Join(dir, "abandoned-"+now.UTC().Format("20060102T150405Z"))
	if err := os.Mkdir(to, 0o700); err != nil {
		return "", fmt.Errorf("abandon: %w", err)
	}
	moved := 0
	for _, name := range LogFiles {
		from := filepath.Join(dir, name)
		if !exists(from) {
			continue
		}
		if err := os.Rename(from, filepath.Join(to, name)); err != nil {
			return to, fmt.Errorf("abandon: %w", err)
		}
		moved++
	}
	if moved == 0 {
		os.Remove(to)
		return "", auditerr.Errorf(auditerr.ErrInvalidConfig, "abandon: %s holds no log", dir)
	}
	if d, err := os.Open(dir); err == nil { // make the renames durable
		d.Sync()
		d.Close()
	}
	return to, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
