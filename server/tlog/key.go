package tlog

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/server/secretfile"
)

// KeyFile is the name of the checkpoint signing key in the data directory.
const KeyFile = "checkpoint.key"

// DefaultNode is the node name used when none is configured: the origin and
// key name are then "stigaudit/local". It deliberately does not depend on
// the host name, so that moving a data directory to another machine keeps
// the log's identity.
const DefaultNode = "local"

// Key is the log's checkpoint key pair.
type Key struct {
	// Origin is the log's name, the first line of every checkpoint and the
	// name of the key: "stigaudit/<node>".
	Origin string
	// Signer signs checkpoints.
	Signer note.Signer
	// Verifier opens them.
	Verifier note.Verifier
	// VerifierKey is the public verifier key "<name>+<hash>+<base64>" that
	// `stigaudit verify --key` takes.
	VerifierKey string
}

// OriginFor returns the origin of the log of a node, "stigaudit/<node>";
// node "" is DefaultNode. The error wraps auditerr.ErrInvalidConfig when the
// result cannot name a log (spaces, control characters or '+').
func OriginFor(node string) (string, error) {
	if node == "" {
		node = DefaultNode
	}
	origin := checkpoint.DefaultOrigin(node)
	if err := checkpoint.ValidOrigin(origin); err != nil {
		return "", auditerr.Errorf(auditerr.ErrInvalidConfig, "node name %q: %v", node, err)
	}
	return origin, nil
}

// LoadOrCreateKey returns the checkpoint key of the data directory dir,
// creating it on first use: an Ed25519 key generated from rand (pass
// crypto/rand.Reader), named after node's origin, written to dir/KeyFile
// with mode 0600. An existing key must carry that name: a key made for
// another node is refused rather than silently starting a second log.
func LoadOrCreateKey(dir, node string, rand io.Reader) (*Key, error) {
	origin, err := OriginFor(node)
	if err != nil {
		return nil, err
	}
	k, err := LoadKey(dir)
	if err == nil {
		if k.Origin != origin {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig,
				"%s signs for the log %q but the node is configured as %q (origin %q); set the node name back, or move the key away to start a new log",
				filepath.Join(dir, KeyFile), k.Origin, strings.TrimPrefix(origin, checkpoint.OriginPrefix), origin)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := createKey(dir, origin, rand); err != nil {
		return nil, err
	}
	return LoadOrCreateKey(dir, node, rand) // now it exists: load and check it
}

// KeyOptions are the settings of LoadOrCreateKeyFor.
type KeyOptions struct {
	// Node is the node name; "" is DefaultNode.
	Node string
	// Origin, when set, is the log's origin (--origin): a C2SP origin such
	// as "audit.example.com/prod". An existing key must carry it.
	Origin string
	// Rand is the entropy of a new key and of a generated origin
	// (crypto/rand.Reader).
	Rand io.Reader
}

// LoadOrCreateKeyFor is LoadOrCreateKey with an origin that names this log
// and no other (docs/tamper-evidence.md#origin): a witness keeps its state by origin, so two
// deployments must never share one. Without o.Origin a new key's origin is
// generated, "stigaudit/<node>/<8 random hex>". An existing key keeps the
// origin it was made with — also the older "stigaudit/<node>" — as long as
// it agrees with o (the same origin, or the same node).
func LoadOrCreateKeyFor(dir string, o KeyOptions) (*Key, error) {
	prefix, err := OriginFor(o.Node)
	if err != nil {
		return nil, err
	}
	if o.Origin != "" {
		if err := checkpoint.ValidOrigin(o.Origin); err != nil {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "origin %q: %v", o.Origin, err)
		}
	}
	k, err := LoadKey(dir)
	if err == nil {
		switch {
		case o.Origin != "" && k.Origin != o.Origin:
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig,
				"%s signs for the log %q but --origin is %q; an existing log keeps its origin: drop --origin, or start a new log",
				filepath.Join(dir, KeyFile), k.Origin, o.Origin)
		case o.Origin == "" && k.Origin != prefix && !strings.HasPrefix(k.Origin, prefix+"/"):
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig,
				"%s signs for the log %q, not one of node %q (%s/...); set the node name back, or move the key away to start a new log",
				filepath.Join(dir, KeyFile), k.Origin, strings.TrimPrefix(prefix, checkpoint.OriginPrefix), prefix)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	origin := o.Origin
	if origin == "" {
		var b [4]byte
		if _, err := io.ReadFull(o.Rand, b[:]); err != nil {
			return nil, auditerr.Errorf(auditerr.ErrEntropyUnavailable, "origin: %v", err)
		}
		origin = fmt.Sprintf("%s/%x", prefix, b)
	}
	if err := createKey(dir, origin, o.Rand); err != nil {
		return nil, err
	}
	return LoadOrCreateKeyFor(dir, KeyOptions{Node: o.Node, Origin: o.Origin, Rand: o.Rand})
}

// createKey writes a new key named origin to dir, unless a key is there:
// of two processes starting at once, the second finds the first one's.
func createKey(dir, origin string, rand io.Reader) error {
	skey, _, err := checkpoint.GenerateKey(rand, origin)
	if err != nil {
		return fmt.Errorf("tlog: generate checkpoint key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tlog: create data directory: %w", err)
	}
	err = secretfile.Create(filepath.Join(dir, KeyFile), []byte(skey+"\n"))
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("tlog: checkpoint key: %w", err)
	}
	return nil
}

// LoadKey reads the checkpoint key of the data directory dir. A missing key
// is an error wrapping fs.ErrNotExist. A key file readable or writable by
// group or others is refused, as ssh refuses such private keys.
func LoadKey(dir string) (*Key, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := secretfile.Read(path, 4096)
	if me := (*secretfile.ModeError)(nil); errors.As(err, &me) {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "%s has mode %#o: a signing key must be private to its owner (chmod 600 %s)", path, me.Mode, path)
	}
	if err != nil {
		return nil, fmt.Errorf("tlog: checkpoint key: %w", err)
	}
	k, err := ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("tlog: %s: %w", path, err)
	}
	return k, nil
}

// ParseKey turns a private signer key "PRIVATE+KEY+<name>+<hash>+<base64>"
// (checkpoint.GenerateKey) into the key pair, deriving the public verifier
// key from it. Errors wrap auditerr.ErrInvalidCheckpoint and never repeat
// the key.
func ParseKey(skey string) (*Key, error) {
	s, err := checkpoint.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	// NewSigner checked the layout and that the hash matches the key.
	parts := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "checkpoint signer key is not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "derive verifier key: %v", err)
	}
	v, err := checkpoint.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	if v.KeyHash() != s.KeyHash() {
		return nil, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "derived verifier key hash %08x differs from the signer's %08x", v.KeyHash(), s.KeyHash())
	}
	return &Key{Origin: s.Name(), Signer: s, Verifier: v, VerifierKey: vkey}, nil
}
