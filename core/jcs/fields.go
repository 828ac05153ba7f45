package jcs

import (
	"unicode/utf8"
	"unsafe"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// Fields reads the members of a JSON object text in source order, as
// strictly as Canonicalize reads it, without canonicalising the object:
// for readers of objects with known members, which need each member's
// value rather than the object's canonical form. Strings without escapes
// are returned as substrings of the text, so reading costs no allocation
// beyond a value's canonical form when the caller asks for one.
//
// Fields does not detect duplicate member names and does not check member
// order; callers that accept a name once track what they have seen. After
// Next returns true the caller reads the value with exactly one of String,
// Null or Canonical; then it calls Next again. When Next returns false,
// Err tells whether the object was read to its end with nothing but
// white space after it (nil) or why reading stopped.
//
//	f := jcs.ScanObject(text)
//	for f.Next() {
//		switch f.Name() { case "id": id, ok = f.String() ... }
//	}
//	if err := f.Err(); err != nil { ... }
type Fields struct {
	p       parser
	src     string // the same bytes as p.src
	name    string
	array   bool // the text is an array: elements, no names (ScanArray)
	started bool
	pending bool // a value is to be read
	done    bool
	err     error
}

// ScanObject returns a Fields over the JSON text src, which must be one
// object.
func ScanObject(src string) Fields {
	// The parser reads bytes; it never writes its source, so a read-only
	// view of the string's bytes serves without a copy.
	b := unsafe.Slice(unsafe.StringData(src), len(src))
	return Fields{p: parser{src: b, maxDepth: HardMaxDepth}, src: src}
}

// ScanArray returns a Fields over the elements of the JSON text src, which
// must be one array: Next advances from element to element, Name is
// always "", and each value is read as in an object.
func ScanArray(src string) Fields {
	f := ScanObject(src)
	f.array = true
	return f
}

// Next advances to the next member and reports whether there is one.
func (f *Fields) Next() bool {
	if f.done {
		return false
	}
	p := &f.p
	if f.pending {
		return f.fail(p.syntax("member value not read"))
	}
	open, end, what := byte('{'), byte('}'), "object"
	if f.array {
		open, end, what = '[', ']', "array"
	}
	p.skipWS()
	if !f.started {
		f.started = true
		if p.pos >= len(p.src) || p.src[p.pos] != open {
			return f.fail(p.syntax("expected an " + what))
		}
		p.pos++
		p.skipWS()
		if p.pos < len(p.src) && p.src[p.pos] == end {
			p.pos++
			return f.end()
		}
	} else {
		if p.pos >= len(p.src) {
			return f.fail(p.syntax("unterminated " + what))
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
			p.skipWS()
		case end:
			p.pos++
			return f.end()
		default:
			return f.fail(p.syntax("expected ',' or '" + string(end) + "' in " + what))
		}
	}
	if f.array {
		if p.pos >= len(p.src) {
			return f.fail(p.syntax("unexpected end of input"))
		}
		f.name, f.pending = "", true
		return true
	}
	if p.pos >= len(p.src) || p.src[p.pos] != '"' {
		return f.fail(p.syntax("expected a member name"))
	}
	name, err := f.string()
	if err != nil {
		return f.fail(err)
	}
	p.skipWS()
	if p.pos >= len(p.src) || p.src[p.pos] != ':' {
		return f.fail(p.syntax("expected ':' after member name"))
	}
	p.pos++
	p.skipWS()
	if p.pos >= len(p.src) {
		return f.fail(p.syntax("unexpected end of input"))
	}
	f.name, f.pending = name, true
	return true
}

// end finishes the object: only white space may follow it.
func (f *Fields) end() bool {
	f.done = true
	f.p.skipWS()
	if f.p.pos != len(f.p.src) {
		f.err = f.p.syntax("data after the top-level value")
	}
	return false
}

func (f *Fields) fail(err error) bool {
	f.done, f.pending, f.err = true, false, err
	return false
}

// Name returns the decoded name of the current member.
func (f *Fields) Name() string { return f.name }

// Kind returns the first byte of the current member's value: '"' for a
// string, '{', '[', 'n', 't', 'f', or '-' or a digit for a number.
func (f *Fields) Kind() byte {
	if !f.pending {
		return 0
	}
	return f.p.src[f.p.pos]
}

// String reads the current value, which must be a string, and returns it
// decoded. It reports false (and Next then returns false, with Err set)
// when the value is not a valid string.
func (f *Fields) String() (string, bool) {
	if !f.take() {
		return "", false
	}
	if f.p.src[f.p.pos] != '"' {
		return "", f.fail(f.p.syntax("expected a string"))
	}
	s, err := f.string()
	if err != nil {
		return "", f.fail(err)
	}
	return s, true
}

// Null reads the current value, which must be null.
func (f *Fields) Null() bool {
	if !f.take() {
		return false
	}
	p := &f.p
	if len(p.src)-p.pos < 4 || string(p.src[p.pos:p.pos+4]) != "null" {
		return f.fail(p.syntax("expected null"))
	}
	p.pos += 4
	return true
}

// Canonical reads the current value, of any type, and appends its
// canonical form to dst, as Canonicalize would write it within lim. The
// value's depth counts from 1 for an outermost object or array; lim's
// MaxInput does not apply. On error the returned slice is dst, and Next
// returns false with Err set.
func (f *Fields) Canonical(dst []byte, lim Limits) ([]byte, error) {
	if !f.take() {
		return dst, f.p.syntax("no member value to read")
	}
	sub := parser{src: f.p.src, pos: f.p.pos, out: dst, base: len(dst), maxOut: lim.MaxOutput, maxDepth: lim.MaxDepth, value: true, exact: lim.ExactNumbers}
	if sub.maxDepth <= 0 || sub.maxDepth > HardMaxDepth {
		sub.maxDepth = HardMaxDepth
	}
	if err := sub.run(); err != nil {
		f.fail(err)
		return dst, err
	}
	f.p.pos = sub.pos
	return sub.out, nil
}

// Raw reads the current value, of any type, as Canonical does within lim,
// and returns its text as it stands in the source (not canonicalised),
// without the white space around it.
func (f *Fields) Raw(lim Limits) (string, error) {
	start := f.p.pos
	var scratch [256]byte
	if _, err := f.Canonical(scratch[:0], lim); err != nil {
		return "", err
	}
	end := f.p.pos
	for end > start {
		if c := f.src[end-1]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		end--
	}
	return f.src[start:end], nil
}

func (f *Fields) take() bool {
	if !f.pending {
		return false
	}
	f.pending = false
	return true
}

// Err returns why reading stopped before the end of the object, or nil.
func (f *Fields) Err() error {
	if !f.done && f.err == nil {
		return auditerr.Errorf(auditerr.ErrInvalidJSON, "jcs: object not read to its end")
	}
	return f.err
}

// string reads the JSON string at p.pos, validating it as the canonicaliser
// does, and returns it decoded: a substring of f.src when it has no escape.
func (f *Fields) string() (string, error) {
	p := &f.p
	src := p.src
	start := p.pos + 1
	pos := start
	escaped := false
	for {
		pos = plainRun(src, pos)
		if pos >= len(src) {
			p.pos = pos
			return "", p.syntax("unterminated string")
		}
		c := src[pos]
		switch {
		case c == '"':
			p.pos = pos + 1
			if !escaped {
				return f.src[start:pos], nil
			}
			return string(appendUnescaped(make([]byte, 0, pos-start), src[start:pos])), nil
		case c == '\\':
			p.pos = pos
			if _, err := p.escape(); err != nil {
				return "", err
			}
			pos = p.pos
			escaped = true
		case c < 0x20:
			p.pos = pos
			return "", p.syntax("control character in string")
		default:
			r, size := utf8.DecodeRune(src[pos:])
			if r == utf8.RuneError && size <= 1 {
				p.pos = pos
				return "", p.syntax("invalid UTF-8")
			}
			pos += size
		}
	}
}
