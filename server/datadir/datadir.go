package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// LockFile is the name of the lock a running server holds in its data
// directory; it contains the holder's pid.
const LockFile = "stigaudit.lock"

// Secrets are the files of a data directory that must be private to their
// owner: anyone who can read one can act as the node.
var Secrets = []string{"admin.key", "checkpoint.key", "redact.salt", "webhook.secret"}

// Options configure Open.
type Options struct {
	// Shared skips the lock: several servers may then use the directory
	// at once (--allow-shared-data-dir).
	Shared bool
}

// Dir is an opened data directory. Close releases its lock.
type Dir struct {
	// Path is the directory.
	Path string
	lock *os.File
}

// Open creates path (mode 0700) if needed, checks its permissions and
// those of the secrets in it (CheckPerms) and, unless o.Shared, takes its
// lock. A directory locked by another process is an error wrapping
// ErrInUse that names the holder's pid.
func Open(path string, o Options) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	if err := CheckPerms(path); err != nil {
		return nil, err
	}
	d := &Dir{Path: path}
	if o.Shared {
		return d, nil
	}
	lockPath := filepath.Join(path, LockFile)
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if b, err := os.ReadFile(lockPath); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					holder = "stigaudit pid " + strconv.Itoa(pid)
				}
			}
			return nil, fmt.Errorf("%w: the data directory %s is in use by %s (%s): stop it, or pass --allow-shared-data-dir to run both on one directory", ErrInUse, path, holder, lockPath)
		}
		return nil, fmt.Errorf("locking %s: %w", lockPath, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	d.lock = f
	return d, nil
}

// ErrInUse is wrapped by Open's refusal of a directory another server holds.
var ErrInUse = errors.New("data directory in use")

// Close releases the lock. The lock file stays: removing it would race
// with a server starting.
func (d *Dir) Close() error {
	if d == nil || d.lock == nil {
		return nil
	}
	err := d.lock.Close()
	d.lock = nil
	return err
}

// CheckPerms refuses a data directory that group or others may write to
// (they could replace the database or the keys) and secret files that group
// or others may read or write. The error wraps auditerr.ErrInvalidConfig and
// gives the chmod that fixes it.
func CheckPerms(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !fi.IsDir() {
		return auditerr.Errorf(auditerr.ErrInvalidConfig, "data directory %s is not a directory", path)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return auditerr.Errorf(auditerr.ErrInvalidConfig, "data directory %s has mode %#o: group or others could replace the log or its keys (chmod go-w %s)", path, perm, path)
	}
	for _, name := range Secrets {
		p := filepath.Join(path, name)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return auditerr.Errorf(auditerr.ErrInvalidConfig, "%s has mode %#o: a secret must be private to its owner (chmod 600 %s)", p, perm, p)
		}
	}
	return nil
}
