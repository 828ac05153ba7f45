package auth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// AdminKeyFile is the name of the file Bootstrap writes in the data
// directory.
const AdminKeyFile = "admin.key"

// AdminEntityURI is the principal of the bootstrap admin key.
const AdminEntityURI = "urn:stigaudit:admin"

// Bootstrap gives a fresh installation its first key. When the api_keys
// table is empty it creates an admin key (tenant "default", entity
// AdminEntityURI), writes it followed by a newline to dataDir/admin.key with
// mode 0600, and returns that path for the caller to log. When any key
// exists — revoked ones count, so revoking every key does not mint a new
// admin key at the next start — it does nothing and returns "".
//
// The file is written before the key is stored and removed again if storing
// fails, so a key that works is never lost; it is replaced atomically, so a
// reader never sees half a key.
func (k *Keys) Bootstrap(ctx context.Context, dataDir string) (string, error) {
	n, err := k.Count(ctx)
	if err != nil {
		return "", err
	}
	if n > 0 {
		return "", nil
	}
	m, err := k.mint(Spec{Tenant: "default", EntityURI: AdminEntityURI, Perms: PermAdmin, Label: "bootstrap admin key"})
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("auth: creating data directory: %w", err)
	}
	path := filepath.Join(dataDir, AdminKeyFile)
	if err := writeSecretFile(path, []byte(m.plaintext+"\n")); err != nil {
		return "", err
	}
	if err := k.insert(ctx, m); err != nil {
		_ = os.Remove(path)
		return "", err
	}
	return path, nil
}

// writeSecretFile writes data to path with mode 0600 via a temporary file in
// the same directory, fsynced and renamed into place.
func writeSecretFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("auth: writing %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("auth: writing %s: %w", path, err)
	}
	// CreateTemp already uses 0600; Chmod makes the mode independent of it.
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("auth: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("auth: writing %s: %w", path, err)
	}
	return nil
}
