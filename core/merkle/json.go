package merkle

import (
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// InclusionProof is an inclusion proof with what it is about: the event at
// Seq, whose leaf hash is LeafHash, is leaf Seq of the tree of TreeSize
// leaves. Its JSON form (HTTP API and WASM ABI) is
//
//	{"seq":5,"tree_size":8,"leaf_hash":"<hex>","hashes":["<hex>",...]}
//
// with hashes ordered from the leaf up to the root (RFC 6962 audit path).
type InclusionProof struct {
	Seq      uint64
	TreeSize uint64
	LeafHash [HashSize]byte
	Hashes   [][]byte
}

// Verify checks the proof against the root of a tree of p.TreeSize leaves,
// as VerifyInclusion does.
func (p *InclusionProof) Verify(root [HashSize]byte) error {
	return VerifyInclusion(p.LeafHash, p.Seq, p.TreeSize, p.Hashes, root)
}

// AppendJSON appends the JSON form of p to b.
func (p *InclusionProof) AppendJSON(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, p.Seq, 10)
	b = append(b, `,"tree_size":`...)
	b = strconv.AppendUint(b, p.TreeSize, 10)
	b = append(b, `,"leaf_hash":"`...)
	b = AppendHex(b, p.LeafHash[:])
	b = append(b, `","hashes":`...)
	b = appendHashes(b, p.Hashes)
	return append(b, '}')
}

// AppendCanonicalJSON appends p as canonical JSON (RFC 8785: members
// sorted), {"hashes":[...],"leaf_hash","seq","tree_size"}, the form an
// export line carries, so that the line stays canonical.
func (p *InclusionProof) AppendCanonicalJSON(b []byte) []byte {
	b = append(b, `{"hashes":`...)
	b = appendHashes(b, p.Hashes)
	b = append(b, `,"leaf_hash":"`...)
	b = AppendHex(b, p.LeafHash[:])
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, p.Seq, 10)
	b = append(b, `,"tree_size":`...)
	b = strconv.AppendUint(b, p.TreeSize, 10)
	return append(b, '}')
}

// MarshalJSON returns the JSON form of p.
func (p InclusionProof) MarshalJSON() ([]byte, error) {
	return p.AppendJSON(nil), nil
}

// UnmarshalJSON decodes the JSON form of p. Every field is required; unknown
// or repeated fields are refused, and so are hashes that are not 64 hex
// digits. Errors carry auditerr codes (invalid_json, missing_field,
// unknown_field, invalid_field).
func (p *InclusionProof) UnmarshalJSON(data []byte) error {
	var q InclusionProof
	names := []string{"seq", "tree_size", "leaf_hash", "hashes"}
	err := scanFields(data, "inclusion proof", names, func(i int, s *scanner) (err error) {
		key := names[i]
		switch i {
		case 0:
			q.Seq, err = s.uint(key)
		case 1:
			q.TreeSize, err = s.uint(key)
		case 2:
			q.LeafHash, err = s.hash(key)
		case 3:
			q.Hashes, err = s.hashes(key)
		}
		return err
	})
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// ConsistencyProof is a consistency proof between two tree sizes. Its JSON
// form is
//
//	{"from":6,"to":8,"hashes":["<hex>",...]}
type ConsistencyProof struct {
	From, To uint64
	Hashes   [][]byte
}

// Verify checks the proof against the roots of the trees of p.From and p.To
// leaves, as VerifyConsistency does.
func (p *ConsistencyProof) Verify(root1, root2 [HashSize]byte) error {
	return VerifyConsistency(p.From, p.To, p.Hashes, root1, root2)
}

// AppendJSON appends the JSON form of p to b.
func (p *ConsistencyProof) AppendJSON(b []byte) []byte {
	b = append(b, `{"from":`...)
	b = strconv.AppendUint(b, p.From, 10)
	b = append(b, `,"to":`...)
	b = strconv.AppendUint(b, p.To, 10)
	b = append(b, `,"hashes":`...)
	b = appendHashes(b, p.Hashes)
	return append(b, '}')
}

// MarshalJSON returns the JSON form of p.
func (p ConsistencyProof) MarshalJSON() ([]byte, error) {
	return p.AppendJSON(nil), nil
}

// UnmarshalJSON decodes the JSON form of p, with the rules of
// InclusionProof.UnmarshalJSON.
func (p *ConsistencyProof) UnmarshalJSON(data []byte) error {
	var q ConsistencyProof
	names := []string{"from", "to", "hashes"}
	err := scanFields(data, "consistency proof", names, func(i int, s *scanner) (err error) {
		key := names[i]
		switch i {
		case 0:
			q.From, err = s.uint(key)
		case 1:
			q.To, err = s.uint(key)
		case 2:
			q.Hashes, err = s.hashes(key)
		}
		return err
	})
	if err != nil {
		return err
	}
	*p = q
	return nil
}

func appendHashes(b []byte, hs [][]byte) []byte {
	b = append(b, '[')
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = AppendHex(b, h)
		b = append(b, '"')
	}
	return append(b, ']')
}

// scanner reads the small, flat JSON objects of this package: an object
// whose values are unsigned integers, strings or arrays of strings. It
// accepts any valid JSON spelling of those (whitespace, string escapes) and
// refuses everything else.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) errorf(format string, args ...any) error {
	return auditerr.Errorf(auditerr.ErrInvalidJSON, "offset %d: "+format, append([]any{s.pos}, args...)...)
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		if s.pos >= len(s.data) {
			return s.errorf("unexpected end of input, want %q", c)
		}
		return s.errorf("unexpected %q, want %q", s.data[s.pos], c)
	}
	s.pos++
	return nil
}

// scanFields decodes an object (a what, for messages) whose members are
// exactly names, each once, in any order: field is called with the
// member's index in names and must consume its value. An unknown member is
// unknown_field, a repeated one invalid_json, a missing one missing_field.
func scanFields(data []byte, what string, names []string, field func(i int, s *scanner) error) error {
	var buf [8]bool // more than any proof has members
	seen := buf[:len(names)]
	err := scanObject(data, func(s *scanner, key string) error {
		i := slices.Index(names, key)
		if i < 0 {
			return auditerr.Errorf(auditerr.ErrUnknownField, "%s: unknown field %q", what, key)
		}
		err := field(i, s)
		if seen[i] {
			return auditerr.Errorf(auditerr.ErrInvalidJSON, "%s: field %q appears twice", what, key)
		}
		seen[i] = true
		return err
	})
	if err != nil {
		return err
	}
	for i, name := range names {
		if !seen[i] {
			return auditerr.Errorf(auditerr.ErrMissingField, "%s: field %q is required", what, name)
		}
	}
	return nil
}

// scanObject calls field for each key of the object in data, with the
// scanner positioned at the key's value; field must consume the value.
func scanObject(data []byte, field func(s *scanner, key string) error) error {
	s := &scanner{data: data}
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
	} else {
		for {
			key, err := s.str()
			if err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if err := field(s, key); err != nil {
				return err
			}
			if s.peek() == ',' {
				s.pos++
				continue
			}
			if err := s.expect('}'); err != nil {
				return err
			}
			break
		}
	}
	if s.peek() != 0 || s.pos != len(s.data) {
		return s.errorf("trailing data after the object")
	}
	return nil
}

// str reads a JSON string.
func (s *scanner) str() (string, error) {
	if err := s.expect('"'); err != nil {
		return "", err
	}
	start := s.pos
	// Fast path: no escapes.
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '"' {
			out := string(s.data[start:s.pos])
			s.pos++
			if !utf8.ValidString(out) {
				return "", s.errorf("string is not valid UTF-8")
			}
			return out, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", s.errorf("control character in string")
		}
		s.pos++
	}
	buf := append([]byte(nil), s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			if !utf8.Valid(buf) {
				return "", s.errorf("string is not valid UTF-8")
			}
			return string(buf), nil
		case c < 0x20:
			return "", s.errorf("control character in string")
		case c != '\\':
			buf = append(buf, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.data) {
			break
		}
		e := s.data[s.pos+1]
		s.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return "", s.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
					s.pos += 2
					if r2, ok = s.hex4(); !ok {
						return "", s.errorf("bad \\u escape")
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", s.errorf("bad escape \\%c", e)
		}
	}
	return "", s.errorf("unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if s.pos+4 > len(s.data) {
		return 0, false
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	s.pos += 4
	return r, true
}

// uint reads a non-negative JSON integer that fits in uint64. Fractions,
// exponents, signs and leading zeros are refused.
func (s *scanner) uint(key string) (uint64, error) {
	s.ws()
	start := s.pos
	for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
		s.pos++
	}
	digits := s.data[start:s.pos]
	if len(digits) == 0 {
		return 0, auditerr.Errorf(auditerr.ErrInvalidField, "field %q must be a non-negative integer", key)
	}
	if s.pos < len(s.data) {
		switch s.data[s.pos] {
		case '.', 'e', 'E':
			return 0, auditerr.Errorf(auditerr.ErrInvalidField, "field %q must be a non-negative integer", key)
		}
	}
	if len(digits) > 1 && digits[0] == '0' {
		return 0, auditerr.Errorf(auditerr.ErrInvalidJSON, "field %q: number with a leading zero", key)
	}
	v, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil {
		return 0, auditerr.Errorf(auditerr.ErrInvalidField, "field %q is out of range", key)
	}
	return v, nil
}

func (s *scanner) hash(key string) ([HashSize]byte, error) {
	if s.peek() != '"' {
		return [HashSize]byte{}, auditerr.Errorf(auditerr.ErrInvalidField, "field %q must be a hex string", key)
	}
	str, err := s.str()
	if err != nil {
		return [HashSize]byte{}, err
	}
	h, err := ParseHash(str)
	if err != nil {
		return h, auditerr.Errorf(auditerr.ErrInvalidField, "field %q: %v", key, err)
	}
	return h, nil
}

func (s *scanner) hashes(key string) ([][]byte, error) {
	if s.peek() != '[' {
		return nil, auditerr.Errorf(auditerr.ErrInvalidField, "field %q must be an array of hex strings", key)
	}
	s.pos++
	out := [][]byte{}
	if s.peek() == ']' {
		s.pos++
		return out, nil
	}
	for {
		if s.peek() != '"' {
			return nil, auditerr.Errorf(auditerr.ErrInvalidField, "field %q must be an array of hex strings", key)
		}
		str, err := s.str()
		if err != nil {
			return nil, err
		}
		if len(str) != 2*HashSize {
			return nil, auditerr.Errorf(auditerr.ErrInvalidField, "field %q: hash %d must be %d hex digits", key, len(out), 2*HashSize)
		}
		h := make([]byte, HashSize)
		if decodeHex(h, str) >= 0 {
			return nil, auditerr.Errorf(auditerr.ErrInvalidField, "field %q: hash %d is not hex", key, len(out))
		}
		out = append(out, h)
		if s.peek() == ',' {
			s.pos++
			continue
		}
		if err := s.expect(']'); err != nil {
			return nil, err
		}
		return out, nil
	}
}
