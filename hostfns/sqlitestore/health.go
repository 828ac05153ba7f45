package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// fileID is what names a file on its device: a file deleted and created
// again under the same name, or another file moved over it, has another.
type fileID struct {
	dev, ino uint64
}

func idOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}

// health is what the store knows of its own soundness: whether the
// database is still the file it opened, and how the last commit went. The
// writer updates it; readiness probes read it.
type health struct {
	path string
	id   fileID
	// known is false where the platform has no device and inode numbers:
	// then only a deleted file is noticed.
	known bool

	mu      sync.Mutex
	gone    error // sticky: the file was deleted or replaced
	lastErr error // the last commit's failure; nil after a success
}

func newHealth(path string) (*health, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: stat %s: %w", path, err)
	}
	id, known := idOf(fi)
	return &health{path: path, id: id, known: known}, nil
}

// checkFile fails, for good, once the path no longer names the file that
// was opened. SQLite would go on writing into the unlinked inode, and
// every event acknowledged after that would be gone at the next start.
func (h *health) checkFile() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone != nil {
		return h.gone
	}
	fi, err := os.Stat(h.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		h.gone = auditerr.Public(auditerr.Errorf(auditerr.ErrStoreUnavailable,
			"the database file %s was deleted while the server ran; nothing more is acknowledged: stop the server and restore the file", h.path))
	case err != nil:
		// Not proof of a change (EIO, ENOMEM): fail this commit, not for good.
		return auditerr.Errorf(auditerr.ErrStoreUnavailable, "cannot stat the database file %s: %v", h.path, err)
	default:
		if id, ok := idOf(fi); h.known && ok && id != h.id {
			h.gone = auditerr.Public(auditerr.Errorf(auditerr.ErrStoreUnavailable,
				"the database file %s was replaced while the server ran (device/inode %d/%d, opened %d/%d); nothing more is acknowledged: stop the server",
				h.path, id.dev, id.ino, h.id.dev, h.id.ino))
		}
	}
	return h.gone
}

// committed records the outcome of a commit.
func (h *health) committed(err error) {
	h.mu.Lock()
	h.lastErr = err
	h.mu.Unlock()
}

// Health reports whether the store can acknowledge appends, for readiness
// probes: nil, or an error wrapping auditerr.ErrStoreUnavailable that says
// why — the database file was deleted or replaced since Open, or the last
// commit failed (a full disk, an I/O error) and none has succeeded since.
// It stats the file; it does not write.
func (s *Store) Health(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	if err := s.health.checkFile(); err != nil {
		return err
	}
	s.health.mu.Lock()
	last := s.health.lastErr
	s.health.mu.Unlock()
	if last != nil {
		return fmt.Errorf("%w: %w", auditerr.Errorf(auditerr.ErrStoreUnavailable, "the last commit failed"), last)
	}
	return nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.health.path }
