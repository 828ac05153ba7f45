package secretfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

func TestCreateOnce(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "secret")
	if err := Create(path, []byte("first\n")); err != nil {
		t.Fatal(err)
	}
	if err := Create(path, []byte("second\n")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: %v, want fs.ErrExist", err)
	}
	checkFile(t, path, "first\n")
}

func TestCreateRaceHasOneWinner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = Create(path, []byte{byte('a' + i)})
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("writers %d and %d both created the file", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, fs.ErrExist):
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if won < 0 {
		t.Fatal("nobody created the file")
	}
	checkFile(t, path, string(rune('a'+won)))
}

func TestWriteReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	for _, s := range []string{"one", "two"} {
		if err := Write(path, []byte(s)); err != nil {
			t.Fatal(err)
		}
		checkFile(t, path, s)
	}
}

// checkFile asserts path holds want, mode 0600, and no temporary file is
// left beside it.
func checkFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("%s holds %q, want %q", path, b, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	left, _ := os.ReadDir(filepath.Dir(path))
	if len(left) != 1 {
		t.Errorf("directory holds %d entries, want only the file", len(left))
	}
}

func TestReadRefusesSharedFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := Create(path, []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(path, 4); err != nil || string(b) != "0123" {
		t.Fatalf("Read = %q, %v; want the first 4 bytes", b, err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		var me *ModeError
		if _, err := Read(path, 4); !errors.As(err, &me) || me.Mode != mode {
			t.Errorf("Read of a %#o file: %v, want a ModeError with that mode", mode, err)
		}
	}
	if _, err := Read(filepath.Join(t.TempDir(), "none"), 4); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a missing file: %v, want fs.ErrNotExist", err)
	}
}
