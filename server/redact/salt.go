package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/server/secretfile"
)

// SaltFile is the name of the redaction salt in the data directory.
const SaltFile = "redact.salt"

// SaltSize is the length of a salt in bytes.
const SaltSize = 32

// Prefix starts every redacted value.
const Prefix = "hmac-sha256:"

// HashLen is the length of a redacted value: Prefix and 64 hex digits.
const HashLen = len(Prefix) + 2*sha256.Size

// Hasher computes redacted values with one salt. It is immutable and safe
// for concurrent use; a Redactor built from it is not.
type Hasher struct {
	salt [SaltSize]byte
}

// NewHasher returns a Hasher keyed with salt, which must be SaltSize bytes.
func NewHasher(salt []byte) (*Hasher, error) {
	if len(salt) != SaltSize {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "redact: a salt has %d bytes, not %d", SaltSize, len(salt))
	}
	return &Hasher{salt: [SaltSize]byte(salt)}, nil
}

// Hash returns the redacted form of value: Prefix and the hex HMAC-SHA256
// of value keyed with the salt.
func (h *Hasher) Hash(value []byte) string {
	mac := hmac.New(sha256.New, h.salt[:])
	mac.Write(value)
	var sum [sha256.Size]byte
	return string(appendHash(make([]byte, 0, HashLen), mac.Sum(sum[:0])))
}

func appendHash(dst, sum []byte) []byte {
	dst = append(dst, Prefix...)
	return hex.AppendEncode(dst, sum)
}

// LoadOrCreateSalt returns the Hasher of the data directory dir, creating
// dir/SaltFile on first use with SaltSize bytes from rand (pass
// crypto/rand.Reader), hex-encoded, mode 0600. A salt file readable or
// writable by group or others, or not holding exactly one salt, is refused.
func LoadOrCreateSalt(dir string, rand io.Reader) (*Hasher, error) {
	h, err := LoadSalt(dir)
	if !errors.Is(err, fs.ErrNotExist) {
		return h, err
	}
	var salt [SaltSize]byte
	if _, err := io.ReadFull(rand, salt[:]); err != nil {
		return nil, auditerr.Errorf(auditerr.ErrEntropyUnavailable, "redact: generate the salt: %v", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("redact: create data directory: %w", err)
	}
	// Of two processes starting at once, the second reads the first one's salt.
	err = secretfile.Create(filepath.Join(dir, SaltFile), []byte(hex.EncodeToString(salt[:])+"\n"))
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("redact: salt: %w", err)
	}
	return LoadSalt(dir)
}

// LoadSalt reads the salt of the data directory dir. A missing file is an
// error wrapping fs.ErrNotExist.
func LoadSalt(dir string) (*Hasher, error) {
	path := filepath.Join(dir, SaltFile)
	data, err := secretfile.Read(path, 4*SaltSize)
	if me := (*secretfile.ModeError)(nil); errors.As(err, &me) {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig,
			"redact: %s is accessible by group or others (mode %04o); run chmod 600 on it", path, me.Mode)
	}
	if err != nil {
		return nil, fmt.Errorf("redact: salt: %w", err)
	}
	salt, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(salt) != SaltSize {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "redact: %s does not hold a %d-byte hex salt", path, SaltSize)
	}
	return NewHasher(salt)
}
