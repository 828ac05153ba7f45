package hostfns

// KeyRow is a row of the api_keys table as a store keeps it: the caller
// (server/auth) gives and reads the meaning of each column. Times are RFC
// 3339 UTC text with microseconds; an optional column that is NULL in the
// table is "" here.
type KeyRow struct {
	ID        string
	Tenant    string
	EntityURI string
	OIDCSub   string
	// Perms is the permission list as text ("audit.write,read").
	Perms string
	// Hash is the PHC string of the secret's argon2id hash.
	Hash      string
	Label     string
	CreatedAt string
	RevokedAt string
	ExpiresAt string
}
