//go:build !wasm

package sha256s

import "crypto/sha256"

// Sum256 returns the SHA-256 digest of data.
func Sum256(data []byte) [Size]byte { return sha256.Sum256(data) }

// SumPrefixed returns the SHA-256 digest of prefix ‖ data without copying
// data beyond a small stack buffer: the shape of RFC 6962's leaf hash,
// SHA-256(0x00 ‖ entry).
func SumPrefixed(prefix byte, data []byte) [Size]byte {
	if len(data) < 2048 {
		var buf [2048]byte
		buf[0] = prefix
		n := copy(buf[1:], data)
		return sha256.Sum256(buf[:1+n])
	}
	h := sha256.New()
	h.Write([]byte{prefix})
	h.Write(data)
	var out [Size]byte
	h.Sum(out[:0])
	return out
}
