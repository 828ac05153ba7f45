package tlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/server/secretfile"
)

// Files of key rotation (docs/tamper-evidence.md#key-rotation), beside KeyFile in the data directory.
const (
	// NextKeyFile is the key added by Rotate: it signs beside KeyFile's
	// until Retire makes it the only one.
	NextKeyFile = "checkpoint.key.next"
	// HistoryFile lists every verifier key the log has signed with, and the
	// tree sizes each signs: what GET /v1/audit/verifier-keys serves.
	HistoryFile = "checkpoint.keys.json"
)

// History is a log's key history.
type History struct {
	// Origin is the log's origin, the name of every key.
	Origin string `json:"origin"`
	// Keys are in the order they were added.
	Keys []HistoryKey `json:"keys"`
}

// HistoryKey is one key of a History.
type HistoryKey struct {
	// VerifierKey is the public key "<name>+<hash>+<base64>".
	VerifierKey string `json:"verifier_key"`
	// FromSize is the smallest tree size it signs.
	FromSize uint64 `json:"from_size"`
	// UntilSize is the largest tree size it signed before it was retired;
	// absent while it is in use.
	UntilSize *uint64 `json:"until_size,omitempty"`
}

// ParseHistory reads a history as written by Rotate and served by GET
// /v1/audit/verifier-keys. Errors wrap auditerr.ErrInvalidConfig.
func ParseHistory(b []byte) (History, error) {
	var h History
	if err := json.Unmarshal(b, &h); err != nil {
		return h, auditerr.Errorf(auditerr.ErrInvalidConfig, "key history: %v", err)
	}
	if len(h.Keys) == 0 {
		return h, auditerr.Errorf(auditerr.ErrInvalidConfig, "key history names no key")
	}
	if _, err := h.KeySet(); err != nil {
		return h, err
	}
	return h, nil
}

// KeySet turns h into the verifier keys and sizes checkpoint.Keys opens
// checkpoints with.
func (h History) KeySet() (checkpoint.Keys, error) {
	var ks checkpoint.Keys
	for _, k := range h.Keys {
		v, err := checkpoint.NewVerifier(k.VerifierKey)
		if err != nil {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "key history: %q: %v", k.VerifierKey, err)
		}
		if h.Origin != "" && v.Name() != h.Origin {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "key history: key %q is not named after the origin %q", k.VerifierKey, h.Origin)
		}
		kr := checkpoint.KeyRange{Verifier: v, From: k.FromSize}
		if k.UntilSize != nil {
			kr.Until, kr.Retired = *k.UntilSize, true
		}
		ks = append(ks, kr)
	}
	return ks, nil
}

// LoadHistory reads dir's HistoryFile; ok is false for a log that never
// rotated its key (its history is its one key, from size 0).
func LoadHistory(dir string) (h History, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, HistoryFile))
	if errors.Is(err, fs.ErrNotExist) {
		return History{}, false, nil
	}
	if err != nil {
		return History{}, false, fmt.Errorf("tlog: %w", err)
	}
	h, err = ParseHistory(b)
	return h, err == nil, err
}

func saveHistory(dir string, h History) error {
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	return secretfile.Write(filepath.Join(dir, HistoryFile), append(b, '\n'))
}

// HistoryOf returns dir's key history: the saved one, or for a log that
// never rotated, its one key from size 0.
func HistoryOf(dir string) (History, error) {
	h, ok, err := LoadHistory(dir)
	if err != nil || ok {
		return h, err
	}
	k, err := LoadKey(dir)
	if err != nil {
		return History{}, err
	}
	return History{Origin: k.Origin, Keys: []HistoryKey{{VerifierKey: k.VerifierKey}}}, nil
}

// Ring is the set of keys a Checkpointer signs with and opens its stored
// checkpoints with: the data directory's KeyFile, NextKeyFile while a
// rotation is under way, and the history of retired keys. It re-reads the
// files when they change, so a rotation reaches a running server within a
// signature. It is safe for concurrent use.
type Ring struct {
	dir string

	mu      sync.Mutex
	stamp   string // the files' sizes and times when last read
	primary *Key
	next    *Key
	keys    checkpoint.Keys
}

// NewRing returns the ring of dir, whose KeyFile is primary.
func NewRing(dir string, primary *Key) (*Ring, error) {
	r := &Ring{dir: dir, primary: primary, keys: checkpoint.SingleKey(primary.Verifier)}
	if err := r.Refresh(); err != nil {
		return nil, err
	}
	return r, nil
}

// Refresh re-reads the key files if they changed since the last read. A
// failed read (a rotation half done: KeyFile moved, NextKeyFile not yet)
// keeps the keys it had.
func (r *Ring) Refresh() error {
	stamp := r.filesStamp()
	r.mu.Lock()
	same := stamp == r.stamp
	r.mu.Unlock()
	if same {
		return nil
	}
	primary, err := LoadKey(r.dir)
	if err != nil {
		return err
	}
	var next *Key
	if _, err := os.Stat(filepath.Join(r.dir, NextKeyFile)); err == nil {
		if next, err = loadKeyFile(filepath.Join(r.dir, NextKeyFile)); err != nil {
			return err
		}
		if next.Origin != primary.Origin {
			return auditerr.Errorf(auditerr.ErrInvalidConfig, "%s signs for %q, not the log's origin %q", NextKeyFile, next.Origin, primary.Origin)
		}
	}
	h, ok, err := LoadHistory(r.dir)
	if err != nil {
		return err
	}
	keys := checkpoint.SingleKey(primary.Verifier)
	if ok {
		if keys, err = h.KeySet(); err != nil {
			return err
		}
	} else if next != nil {
		keys = append(keys, checkpoint.KeyRange{Verifier: next.Verifier})
	}
	r.mu.Lock()
	r.stamp, r.primary, r.next, r.keys = stamp, primary, next, keys
	r.mu.Unlock()
	return nil
}

func (r *Ring) filesStamp() string {
	var b strings.Builder
	for _, name := range []string{KeyFile, NextKeyFile, HistoryFile} {
		if fi, err := os.Stat(filepath.Join(r.dir, name)); err == nil {
			fmt.Fprintf(&b, "%s:%d:%d;", name, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String()
}

// Signers are the keys that sign new checkpoints: KeyFile's, and
// NextKeyFile's during a rotation.
func (r *Ring) Signers() []note.Signer {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := []note.Signer{r.primary.Signer}
	if r.next != nil {
		s = append(s, r.next.Signer)
	}
	return s
}

// Keys are the keys stored checkpoints are opened with, with their sizes.
func (r *Ring) Keys() checkpoint.Keys {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys
}

// Sign signs c with every signer of the ring.
func (r *Ring) Sign(c checkpoint.Checkpoint) ([]byte, error) {
	signers := r.Signers()
	if len(signers) == 1 {
		return checkpoint.Sign(c, signers[0])
	}
	b, err := note.Sign(&note.Note{Text: string(c.Body())}, signers...)
	if err != nil {
		return nil, fmt.Errorf("tlog: sign checkpoint: %w", err)
	}
	return b, nil
}

// loadKeyFile reads a private key file other than KeyFile, with the same
// checks.
func loadKeyFile(path string) (*Key, error) {
	b, err := secretfile.Read(path, 4096)
	if me := (*secretfile.ModeError)(nil); errors.As(err, &me) {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "%s has mode %#o: a signing key must be private to its owner (chmod 600 %s)", path, me.Mode, path)
	}
	if err != nil {
		return nil, fmt.Errorf("tlog: %w", err)
	}
	return ParseKey(strings.TrimSpace(string(b)))
}

// Rotate adds a new signing key to dir (NextKeyFile, same origin) and
// records it in the history from size from (the log's latest signed size:
// the new key signs the checkpoints after it). From then on checkpoints
// carry both signatures, until Retire.
func Rotate(dir string, from uint64, rand io.Reader) (*Key, error) {
	old, err := LoadKey(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, NextKeyFile)); err == nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "a rotation is under way (%s exists): retire the old key first (--retire-old)", NextKeyFile)
	}
	h, err := HistoryOf(dir)
	if err != nil {
		return nil, err
	}
	skey, _, err := checkpoint.GenerateKey(rand, old.Origin)
	if err != nil {
		return nil, fmt.Errorf("tlog: generate checkpoint key: %w", err)
	}
	next, err := ParseKey(skey)
	if err != nil {
		return nil, err
	}
	if err := secretfile.Create(filepath.Join(dir, NextKeyFile), []byte(skey+"\n")); err != nil {
		return nil, fmt.Errorf("tlog: %w", err)
	}
	h.Keys = append(h.Keys, HistoryKey{VerifierKey: next.VerifierKey, FromSize: from})
	if err := saveHistory(dir, h); err != nil {
		return nil, err
	}
	return next, nil
}

// Retire ends a rotation: the old key (KeyFile) signed up to latest's
// size, which must already carry the new key's signature, so the two
// keys' ranges meet. The old key moves to checkpoint.key.retired-<hash>,
// the new one becomes KeyFile, and the history records the old key's last
// size. It returns the two keys and that size.
func Retire(dir string, latest Signed) (old, next *Key, until uint64, err error) {
	if old, err = LoadKey(dir); err != nil {
		return nil, nil, 0, err
	}
	if next, err = loadKeyFile(filepath.Join(dir, NextKeyFile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = auditerr.Errorf(auditerr.ErrInvalidConfig, "no rotation is under way: run 'stigaudit keys rotate-checkpoint-key' first")
		}
		return nil, nil, 0, err
	}
	if _, err := checkpoint.Open(latest.Note, old.Origin, next.Verifier); err != nil {
		return nil, nil, 0, auditerr.Errorf(auditerr.ErrInvalidConfig,
			"the latest checkpoint (size %d) is not signed by the new key yet: the server signs with it within a second of the next event; retire after that", latest.Size)
	}
	h, err := HistoryOf(dir)
	if err != nil {
		return nil, nil, 0, err
	}
	until = latest.Size
	for i := range h.Keys {
		if h.Keys[i].VerifierKey == old.VerifierKey && h.Keys[i].UntilSize == nil {
			h.Keys[i].UntilSize = &until
		}
	}
	retired := filepath.Join(dir, KeyFile+".retired-"+strconv.FormatUint(uint64(old.Verifier.KeyHash()), 16)+"-"+time.Now().UTC().Format("20060102T150405Z"))
	if err := os.Link(filepath.Join(dir, KeyFile), retired); err != nil {
		return nil, nil, 0, fmt.Errorf("tlog: keep the retired key: %w", err)
	}
	if err := saveHistory(dir, h); err != nil {
		return nil, nil, 0, err
	}
	if err := os.Rename(filepath.Join(dir, NextKeyFile), filepath.Join(dir, KeyFile)); err != nil {
		return nil, nil, 0, fmt.Errorf("tlog: make the new key current: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return old, next, until, nil
}
