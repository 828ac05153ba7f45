//go:build wasm

package sha256s

// Sum256 returns the SHA-256 digest of data.
func Sum256(data []byte) [Size]byte { return sum(nil, data) }

// SumPrefixed returns the SHA-256 digest of prefix ‖ data without copying
// data: the shape of RFC 6962's leaf hash, SHA-256(0x00 ‖ entry).
func SumPrefixed(prefix byte, data []byte) [Size]byte { return sum([]byte{prefix}, data) }
