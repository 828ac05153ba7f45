package secretfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Create writes data to path unless path exists. Of several processes
// creating the same file at once exactly one succeeds; the others get an
// error wrapping fs.ErrExist and should read the file the winner wrote.
func Create(path string, data []byte) error {
	return place(path, data, func(tmp string) error {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("create %s: %w", path, fs.ErrExist)
			}
			return fmt.Errorf("create %s: %w", path, err)
		}
		return nil
	})
}

// Write replaces path with data.
func Write(path string, data []byte) error {
	return place(path, data, func(tmp string) error {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
}

// place writes data to a synced temporary file beside path, mode 0600,
// lets move put it in place, and syncs the directory.
func place(path string, data []byte, move func(tmp string) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a Link the name stays; after a Rename this fails harmlessly
	// CreateTemp already uses 0600; Chmod makes the mode independent of it.
	cherr := f.Chmod(0o600)
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(cherr, werr, serr, cerr); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := move(tmp); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil { // make the new name durable
		d.Sync()
		d.Close()
	}
	return nil
}

// ModeError is Read's refusal of a file that group or others may read or
// write: a secret must be private to its owner, as ssh requires of
// private keys.
type ModeError struct {
	Path string
	Mode fs.FileMode // the permission bits found
}

func (e *ModeError) Error() string {
	return fmt.Sprintf("%s has mode %#o: a secret must be private to its owner (chmod 600 %s)", e.Path, e.Mode, e.Path)
}

// Read returns the first limit bytes of the secret file at path, or a
// *ModeError when group or others have any access to it. A missing file is
// an error wrapping fs.ErrNotExist.
func Read(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, &ModeError{Path: path, Mode: perm}
	}
	return io.ReadAll(io.LimitReader(f, limit))
}
