package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stigaudit/stigaudit/server/secretfile"
)

// AdminKeyFile is the name of the file Bootstrap writes in the data
// directory.
const AdminKeyFile = "admin.key"

// ErrAdminKeyExists is Bootstrap's refusal to write over an existing
// admin.key.
var ErrAdminKeyExists = errors.New("an admin key file exists but the database has no keys")

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
// fails, so a key that works is never lost; it appears atomically, so a
// reader never sees half a key. An existing admin.key is never replaced:
// with no keys stored, it means the database is not the one the key was
// made for, and Bootstrap returns an error wrapping ErrAdminKeyExists.
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
	if err := secretfile.Create(path, []byte(m.plaintext+"\n")); errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("%w: %s exists", ErrAdminKeyExists, path)
	} else if err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	if err := k.insert(ctx, m); err != nil {
		_ = os.Remove(path)
		return "", err
	}
	return path, nil
}
