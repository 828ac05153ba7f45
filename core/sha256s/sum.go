package sha256s

import "encoding/binary"

// Size is the length of a SHA-256 digest in bytes.
const Size = 32

// iv is the initial hash value H(0) of FIPS 180-4 §5.3.3.
var iv = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// sum is SHA-256 of prefix ‖ data computed by this package's block
// function; prefix is shorter than a block.
func sum(prefix, data []byte) [Size]byte {
	h := iv
	total := uint64(len(prefix)) + uint64(len(data))
	var buf [128]byte
	n := copy(buf[:64], prefix)
	if n+len(data) >= 64 {
		data = data[copy(buf[n:64], data):]
		block(&h, buf[:64])
		full := len(data) &^ 63
		block(&h, data[:full])
		data = data[full:]
		n = 0
	}
	// What is left (under a block), the 0x80 marker and the length in
	// bits fill one or two final blocks.
	n += copy(buf[n:], data)
	buf[n] = 0x80
	end := 64
	if n >= 56 {
		end = 128
	}
	clear(buf[n+1 : end-8])
	binary.BigEndian.PutUint64(buf[end-8:end], total<<3)
	block(&h, buf[:end])
	var out [Size]byte
	for i, v := range h {
		binary.BigEndian.PutUint32(out[4*i:], v)
	}
	return out
}
