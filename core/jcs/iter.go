package jcs

import (
	"bytes"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// Member is one member of a canonical object as Iter returns it. Both
// fields are views into the walked text.
type Member struct {
	// Key is the member name as written in the canonical text, without the
	// quotes. It differs from the decoded name only when the name contains
	// '"', '\\' or a control character (then it holds escapes).
	Key []byte
	// Value is the canonical text of the value, e.g. `"past"`, `12`, `null`
	// or a whole nested object.
	Value []byte
}

// NameIs reports whether the decoded member name equals s, without
// allocating for names that need no escapes.
func (m Member) NameIs(s string) bool {
	if !hasBackslash(m.Key) {
		return string(m.Key) == s
	}
	return string(appendUnescaped(nil, m.Key)) == s
}

// Name returns the decoded member name.
func (m Member) Name() string {
	if !hasBackslash(m.Key) {
		return string(m.Key)
	}
	return string(appendUnescaped(nil, m.Key))
}

// CompareName orders the member name against s by UTF-16 code units (the
// order of members in canonical text), returning -1, 0 or +1.
func (m Member) CompareName(s string) int {
	if !hasBackslash(m.Key) {
		return Compare(string(m.Key), s)
	}
	return Compare(string(appendUnescaped(nil, m.Key)), s)
}

func hasBackslash(b []byte) bool { return bytes.IndexByte(b, '\\') >= 0 }

// Iter walks the members of a canonical object or the elements of a
// canonical array without decoding them, in the style of bufio.Scanner:
// call Next until it returns false, then check Err.
//
// The text must be canonical (output of Canonicalize or built with
// AppendString in canonical order); Iter checks its structure only as far as
// it needs to find each value's end, and reports anything else as an error
// rather than panicking.
type Iter struct {
	s    []byte
	pos  int
	obj  bool
	cur  Member
	err  error
	done bool
}

// Members returns an Iter over the members of the canonical object obj.
func Members(obj []byte) Iter {
	it := Iter{s: obj, obj: true, pos: 1}
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		it.err = auditerr.Errorf(auditerr.ErrInvalidJSON, "jcs: not a canonical object")
		it.done = true
	}
	return it
}

// Elements returns an Iter over the elements of the canonical array arr;
// each element is a Member with a nil Key.
func Elements(arr []byte) Iter {
	it := Iter{s: arr, pos: 1}
	if len(arr) < 2 || arr[0] != '[' || arr[len(arr)-1] != ']' {
		it.err = auditerr.Errorf(auditerr.ErrInvalidJSON, "jcs: not a canonical array")
		it.done = true
	}
	return it
}

// Next advances to the next member or element and reports whether there is
// one.
func (it *Iter) Next() bool {
	if it.done {
		return false
	}
	s := it.s
	end := len(s) - 1 // the closing bracket
	if it.pos >= end {
		it.done = true
		return false
	}
	if it.pos > 1 {
		if s[it.pos] != ',' {
			return it.fail()
		}
		it.pos++
	}
	it.cur = Member{}
	if it.obj {
		if it.pos >= end || s[it.pos] != '"' {
			return it.fail()
		}
		k, ok := skipString(s, it.pos)
		if !ok || k >= end || s[k] != ':' {
			return it.fail()
		}
		it.cur.Key = s[it.pos+1 : k-1]
		it.pos = k + 1
	}
	v, ok := skipValue(s, it.pos, end)
	if !ok {
		return it.fail()
	}
	it.cur.Value = s[it.pos:v]
	it.pos = v
	return true
}

func (it *Iter) fail() bool {
	it.err = auditerr.Errorf(auditerr.ErrInvalidJSON, "jcs: malformed canonical text at offset %d", it.pos)
	it.done = true
	return false
}

// Member returns the current member (or element, with a nil Key).
func (it *Iter) Member() Member { return it.cur }

// Err returns the first structural error met, or nil.
func (it *Iter) Err() error { return it.err }

// skipString returns the index just past the string starting at s[i] == '"'.
func skipString(s []byte, i int) (int, bool) {
	for i++; ; i++ {
		i = plainRun(s, i)
		if i >= len(s) {
			return 0, false
		}
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
}

// skipValue returns the index just past the canonical value starting at
// s[i], which must end at or before limit.
func skipValue(s []byte, i, limit int) (int, bool) {
	if i >= limit {
		return 0, false
	}
	switch s[i] {
	case '"':
		j, ok := skipString(s, i)
		return j, ok && j <= limit
	case '{', '[':
		depth := 0
		for j := i; j < limit; j++ {
			switch s[j] {
			case '"':
				k, ok := skipString(s, j)
				if !ok {
					return 0, false
				}
				j = k - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	default:
		j := i
		for j < limit && isScalarByte(s[j]) {
			j++
		}
		return j, j > i
	}
}

// isScalarByte reports whether c can occur in a number or literal.
func isScalarByte(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' || c == '.' || c == 'E'
}
