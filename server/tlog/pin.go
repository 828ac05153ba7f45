package tlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/server/secretfile"
)

// PinFile is the name, in the data directory beside the signing key, of the
// last checkpoint this node signed (or, on a following PostgreSQL replica,
// verified): its signed note, exactly as served.
const PinFile = "checkpoint.latest"

// Pin keeps the last signed checkpoint outside the database, so that a
// database deleted, truncated or restored from an older copy cannot make
// the server forget what it has already signed and sign a second history
// (docs/design/tamper-evidence.md, "One history"). The Checkpointer loads
// it on start and saves every checkpoint it publishes, before publishing.
type Pin interface {
	// Load returns the pinned checkpoint; ok is false when none is pinned.
	// Its signature is not checked here: the Checkpointer opens it with its
	// key.
	Load() (s Signed, ok bool, err error)
	// Save pins s unless a checkpoint of s.Size or more is pinned already.
	// A pinned checkpoint of the same size with another root is a fork: the
	// error wraps auditerr.ErrVerifyFailed.
	Save(s Signed) error
}

// FilePin is a Pin in a file of the data directory (PinFile). Saves are
// atomic and durable (secretfile.Write) and serialised between processes
// by an advisory lock on the file's directory entry PinFile+".lock", so a
// server and `stigaudit export` signing on one data directory never move it
// back.
type FilePin struct {
	// Path is the file, normally filepath.Join(dataDir, PinFile).
	Path string
}

var _ Pin = FilePin{}

// PinIn returns the FilePin of the data directory dir.
func PinIn(dir string) FilePin { return FilePin{Path: filepath.Join(dir, PinFile)} }

// Load reads the pinned note. A file that is not a checkpoint note is an
// error wrapping auditerr.ErrInvalidCheckpoint: it is never ignored.
func (p FilePin) Load() (Signed, bool, error) {
	b, err := os.ReadFile(p.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return Signed{}, false, nil
	}
	if err != nil {
		return Signed{}, false, fmt.Errorf("tlog: read %s: %w", p.Path, err)
	}
	c, err := checkpoint.ParseBody(checkpoint.NoteBody(b))
	if err != nil {
		return Signed{}, false, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "%s is not a signed checkpoint: %v", p.Path, err)
	}
	if fi, err := os.Stat(p.Path); err == nil {
		return Signed{Checkpoint: c, Note: b, Time: fi.ModTime()}, true, nil
	}
	return Signed{Checkpoint: c, Note: b}, true, nil
}

// Save pins s (see Pin.Save).
func (p FilePin) Save(s Signed) error {
	unlock, err := lockFile(p.Path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	cur, ok, err := p.Load()
	if err != nil {
		return err
	}
	if ok && cur.Size == s.Size && cur.Root != s.Root {
		return forkf("checkpoint %d with root %x contradicts the pinned checkpoint of the same size with root %x (%s)", s.Size, s.Root, cur.Root, p.Path)
	}
	if ok && cur.Size >= s.Size {
		return nil
	}
	if err := secretfile.Write(p.Path, s.Note); err != nil {
		return fmt.Errorf("tlog: pin the signed checkpoint: %w", err)
	}
	return nil
}

// lockFile takes an exclusive advisory lock on path, creating it, and
// returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("tlog: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("tlog: lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}
