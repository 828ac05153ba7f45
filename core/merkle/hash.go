package merkle

import (
	"encoding/hex"

	"github.com/transparency-dev/merkle/compact"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/sha256s"
)

// HashSize is the size in bytes of every hash in the tree (SHA-256).
const HashSize = sha256s.Size

// NodeID names a perfect subtree of the tree by level and index: level 0 are
// the leaves, and node (l, i) covers leaves [i·2^l, (i+1)·2^l). It is the key
// under which a host stores a tree node.
type NodeID = compact.NodeID

// Domain-separation prefixes of RFC 6962 §2.1.
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// emptyRoot is SHA-256 of the empty string, the root of the empty tree.
var emptyRoot = [HashSize]byte{
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
}

// EmptyRoot returns the root of the empty tree, SHA-256 of no bytes
// (e3b0c442…b855).
func EmptyRoot() [HashSize]byte { return emptyRoot }

// LeafHash returns the RFC 6962 leaf hash SHA-256(0x00 ‖ data). For an event,
// data is its canonical form.
func LeafHash(data []byte) [HashSize]byte { return sha256s.SumPrefixed(leafPrefix, data) }

// NodeHash returns the RFC 6962 interior hash SHA-256(0x01 ‖ left ‖ right).
func NodeHash(left, right [HashSize]byte) [HashSize]byte {
	var b [1 + 2*HashSize]byte
	b[0] = nodePrefix
	copy(b[1:], left[:])
	copy(b[1+HashSize:], right[:])
	return sha256s.Sum256(b[:])
}

// HashChildren is NodeHash on slices, in the shape of compact.HashFn. Both
// arguments must be HashSize bytes long; other lengths are hashed as given,
// which can never match a hash of the tree.
func HashChildren(left, right []byte) []byte {
	var b [1 + 2*HashSize]byte
	buf := b[:0]
	if len(left) != HashSize || len(right) != HashSize {
		buf = make([]byte, 0, 1+len(left)+len(right))
	}
	buf = append(buf, nodePrefix)
	buf = append(buf, left...)
	buf = append(buf, right...)
	h := sha256s.Sum256(buf)
	return h[:]
}

// ParseHash decodes a hash written as 64 hex digits (either case).
// Errors wrap auditerr.ErrInvalidField.
func ParseHash(s string) ([HashSize]byte, error) {
	var h [HashSize]byte
	if len(s) != 2*HashSize {
		return h, auditerr.Errorf(auditerr.ErrInvalidField, "hash must be %d hex digits, got %d characters", 2*HashSize, len(s))
	}
	if i := decodeHex(h[:], s); i >= 0 {
		return h, auditerr.Errorf(auditerr.ErrInvalidField, "hash is not hex: invalid byte %q at offset %d", s[i], i)
	}
	return h, nil
}

// decodeHex decodes the 2·len(dst) hex digits of s (either case) into dst
// and returns -1, or the offset of the first byte that is not a hex digit.
// It is encoding/hex.Decode without the error type whose message needs fmt.
func decodeHex(dst []byte, s string) int {
	for i := range dst {
		hi, lo := unhex(s[2*i]), unhex(s[2*i+1])
		if hi > 15 {
			return 2 * i
		}
		if lo > 15 {
			return 2*i + 1
		}
		dst[i] = hi<<4 | lo
	}
	return -1
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}

// AppendHex appends the lowercase hex form of h to b.
func AppendHex(b []byte, h []byte) []byte {
	return hex.AppendEncode(b, h)
}

// Hex returns the lowercase hex form of h, the form used in every JSON and
// text output.
func Hex(h [HashSize]byte) string { return hex.EncodeToString(h[:]) }

// toArray copies a hash slice of HashSize bytes into an array. The caller
// checks the length.
func toArray(b []byte) [HashSize]byte {
	var h [HashSize]byte
	copy(h[:], b)
	return h
}
