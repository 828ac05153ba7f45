package auth

import (
	"context"
	"fmt"
	"github.com/stigaudit/stigaudit/server/secretfile"
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
	if err := secretfile.Write(path, []byte(m.plaintext+"\n")); err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	if err := k.insert(ctx, m); err != nil {
		_ = os.Remove(path)
		return "", err
	}
	return path, nil
}
