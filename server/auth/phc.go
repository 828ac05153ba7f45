package auth

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters (RFC 9106).
type Params struct {
	// Time is the number of passes.
	Time uint32
	// Memory is the memory cost in KiB.
	Memory uint32
	// Threads is the degree of parallelism.
	Threads uint8
}

// DefaultParams are the parameters new keys are hashed with: OWASP's
// baseline for argon2id (19 MiB, 2 passes, 1 lane). The secret is 256 random
// bits, so the hash guards against a stolen database, not guessing; the
// cache in Keys keeps the cost off the request path.
var DefaultParams = Params{Time: 2, Memory: 19 * 1024, Threads: 1}

// HashFunc computes an argon2id hash of secret with salt and p, keyLen bytes
// long. argon2.IDKey has this shape apart from the parameter struct;
// Options.Hash lets tests count or replace it.
type HashFunc func(secret, salt []byte, p Params, keyLen uint32) []byte

// argon2ID is the production HashFunc.
func argon2ID(secret, salt []byte, p Params, keyLen uint32) []byte {
	return argon2.IDKey(secret, salt, p.Time, p.Memory, p.Threads, keyLen)
}

const (
	hashLen = 32
	saltLen = 16
	// Bounds on parameters read back from the database, so that a corrupt
	// or hostile row cannot make verification allocate without limit.
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 64
)

// phc is a parsed PHC string of the argon2id family.
type phc struct {
	params Params
	salt   []byte
	hash   []byte
}

// encodePHC formats $argon2id$v=19$m=M,t=T,p=P$salt$hash with unpadded
// standard base64, as the reference implementation and libsodium do.
func encodePHC(p Params, salt, hash []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(hash))
}

// parsePHC parses the output of encodePHC, refusing other algorithms and
// versions and out-of-range parameters.
func parsePHC(s string) (phc, error) {
	var out phc
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return out, fmt.Errorf("not an argon2id PHC string")
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return out, fmt.Errorf("unsupported argon2 version %q", f[2])
	}
	var m, t, p uint64
	for _, kv := range strings.Split(f[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return out, fmt.Errorf("malformed parameter %q", kv)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return out, fmt.Errorf("malformed parameter %q", kv)
		}
		switch k {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			p = n
		default:
			return out, fmt.Errorf("unknown parameter %q", k)
		}
	}
	if m < 8 || m > maxMemoryKiB || t < 1 || t > maxTime || p < 1 || p > 255 || m < 8*p {
		return out, fmt.Errorf("argon2id parameters out of range (m=%d,t=%d,p=%d)", m, t, p)
	}
	salt, err := base64.RawStdEncoding.DecodeString(f[4])
	if err != nil || len(salt) < 8 {
		return out, fmt.Errorf("malformed salt")
	}
	hash, err := base64.RawStdEncoding.DecodeString(f[5])
	if err != nil || len(hash) < 16 || len(hash) > 64 {
		return out, fmt.Errorf("malformed hash")
	}
	out.params = Params{Time: uint32(t), Memory: uint32(m), Threads: uint8(p)}
	out.salt, out.hash = salt, hash
	return out, nil
}

// matches reports, in constant time with respect to the hash bytes, whether
// secret hashes to h.hash under h's salt and parameters.
func (h phc) matches(hf HashFunc, secret []byte) bool {
	got := hf(secret, h.salt, h.params, uint32(len(h.hash)))
	return subtle.ConstantTimeCompare(got, h.hash) == 1
}
