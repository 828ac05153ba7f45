package sha256s

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// TestSumMatchesCryptoSHA256 compares the package's block function with
// crypto/sha256 on every length around the block and padding boundaries,
// on patterned and random bytes.
func TestSumMatchesCryptoSHA256(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, fill := range []struct {
		name string
		byte func(i int) byte
	}{
		{"zero", func(int) byte { return 0 }},
		{"ones", func(int) byte { return 0xff }},
		{"counter", func(i int) byte { return byte(i) }},
		{"random", func(int) byte { return byte(rng.Uint32()) }},
	} {
		for n := 0; n <= 4*64+1; n++ {
			data := make([]byte, n)
			for i := range data {
				data[i] = fill.byte(i)
			}
			if got, want := sum(nil, data), sha256.Sum256(data); got != want {
				t.Fatalf("%s, %d bytes: got %x, want %x", fill.name, n, got, want)
			}
		}
	}
	for i := 0; i < 200; i++ {
		data := make([]byte, rng.IntN(5000))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		if got, want := sum(nil, data), sha256.Sum256(data); got != want {
			t.Fatalf("random %d bytes: got %x, want %x", len(data), got, want)
		}
	}
}

// TestKnownAnswers checks FIPS 180-4 example digests, so that the test
// cannot pass by comparing crypto/sha256 with itself.
func TestKnownAnswers(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	} {
		for name, f := range map[string]func([]byte) [Size]byte{"sum": func(b []byte) [Size]byte { return sum(nil, b) }, "Sum256": Sum256} {
			got := f([]byte(tc.in))
			if h := hexString(got[:]); h != tc.want {
				t.Errorf("%s(%q) = %s, want %s", name, tc.in, h, tc.want)
			}
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var out bytes.Buffer
	for _, c := range b {
		out.WriteByte(digits[c>>4])
		out.WriteByte(digits[c&15])
	}
	return out.String()
}

// TestPrefixedMatchesCryptoSHA256: prefix ‖ data hashes as the
// concatenation does, for prefixes up to a block and data lengths around
// every boundary, by the package's code and by SumPrefixed.
func TestPrefixedMatchesCryptoSHA256(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, np := range []int{0, 1, 2, 31, 55, 56, 63} {
		prefix := make([]byte, np)
		for i := range prefix {
			prefix[i] = byte(rng.Uint32())
		}
		for n := 0; n <= 3*64+1; n++ {
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			want := sha256.Sum256(append(append([]byte{}, prefix...), data...))
			if got := sum(prefix, data); got != want {
				t.Fatalf("prefix %d, data %d bytes: got %x, want %x", np, n, got, want)
			}
			if np == 1 {
				if got := SumPrefixed(prefix[0], data); got != want {
					t.Fatalf("SumPrefixed, data %d bytes: got %x, want %x", n, got, want)
				}
			}
		}
	}
	big := make([]byte, 5000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if got, want := SumPrefixed(0x01, big), sha256.Sum256(append([]byte{0x01}, big...)); got != want {
		t.Fatalf("SumPrefixed, 5000 bytes: got %x, want %x", got, want)
	}
}

// FuzzSum: any input hashes as crypto/sha256 hashes it.
func FuzzSum(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("abc"))
	f.Add(bytes.Repeat([]byte{0x80}, 55))
	f.Add(bytes.Repeat([]byte{0x01}, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := sum(nil, data), sha256.Sum256(data); got != want {
			t.Fatalf("%d bytes: got %x, want %x", len(data), got, want)
		}
		if len(data) > 0 {
			if got, want := sum(data[:1], data[1:]), sha256.Sum256(data); got != want {
				t.Fatalf("prefixed, %d bytes: got %x, want %x", len(data), got, want)
			}
		}
	})
}

func BenchmarkSum(b *testing.B) {
	data := make([]byte, 450)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sum(nil, data)
	}
}
