package jcs

import (
	"strconv"
	"unicode/utf8"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// HardMaxDepth bounds the nesting depth whatever Limits say, so that no input
// can exhaust the stack.
const HardMaxDepth = 1000

// Limits bound the work Canonicalize does for one input. A zero field means
// "no limit", except MaxDepth, for which zero (or anything above it) means
// HardMaxDepth.
type Limits struct {
	// MaxInput is the largest accepted input, in bytes. Exceeding it fails
	// with a too_large error before any parsing.
	MaxInput int
	// MaxOutput is the largest accepted canonical form, in bytes. Exceeding
	// it fails with an output_too_large error as soon as it is known.
	MaxOutput int
	// MaxDepth is the deepest accepted nesting of arrays and objects; the
	// outermost array or object is depth 1, a bare scalar depth 0. Exceeding
	// it fails with a too_deep error.
	MaxDepth int
	// ExactNumbers refuses, with an inexact_number error, every number
	// whose canonical form has another decimal value than the number as
	// written (see SameDecimal): 9007199254740993, 1e-400 or 1e400 are
	// refused, 1.0, 0.10, -0 and 1e2 are not. Audit details set it, since a
	// number in them is evidence that must not change on the way in.
	ExactNumbers bool
}

// Canonicalize parses the JSON text src and appends its RFC 8785 canonical
// form to dst. On error the returned slice is dst unchanged (its contents
// beyond len(dst) are unspecified) and the error carries one of the codes
// invalid_json (with the byte offset of the problem), too_large,
// output_too_large, too_deep or, with lim.ExactNumbers, inexact_number.
func Canonicalize(dst, src []byte, lim Limits) ([]byte, error) {
	if lim.MaxInput > 0 && len(src) > lim.MaxInput {
		return dst, auditerr.Errorf(auditerr.ErrTooLarge, "jcs: input is %d bytes, more than the limit of %d", len(src), lim.MaxInput)
	}
	p := parser{src: src, out: dst, base: len(dst), maxOut: lim.MaxOutput, maxDepth: lim.MaxDepth, exact: lim.ExactNumbers}
	if p.maxDepth <= 0 || p.maxDepth > HardMaxDepth {
		p.maxDepth = HardMaxDepth
	}
	if err := p.run(); err != nil {
		return dst, err
	}
	return p.out, nil
}

// span locates one object member in the output while its object is open.
type span struct {
	start, end int // the member "name":value is out[start:end]
	// The decoded name is out[kOff:kOff+kLen], or keys[kOff:kOff+kLen] when
	// inKeys is set (the canonical name contains an escape).
	kOff, kLen int
	inKeys     bool
}

// frame is one open array or object.
type frame struct {
	obj      bool
	start    int  // index of the '{' in out
	first    int  // index in spans of the object's first member
	keysMark int  // len(keys) when the object opened
	cur      span // the member whose value is being parsed
}

type parser struct {
	src      []byte
	pos      int
	out      []byte
	base     int
	maxOut   int
	maxDepth int
	// value stops run after one complete value, wherever it ends,
	// instead of requiring the end of src (see Fields.Canonical).
	value bool
	// exact refuses numbers the canonical form would change
	// (Limits.ExactNumbers).
	exact bool
}

func (p *parser) syntax(msg string) error {
	return auditerr.Errorf(auditerr.ErrInvalidJSON, "jcs: %s at offset %d", msg, p.pos)
}

func (p *parser) checkOut() error {
	if p.maxOut > 0 && len(p.out)-p.base > p.maxOut {
		return auditerr.Errorf(auditerr.ErrOutputTooLarge, "jcs: canonical form exceeds the limit of %d bytes", p.maxOut)
	}
	return nil
}

func (p *parser) skipWS() {
	pos := p.pos
	for pos < len(p.src) {
		c := p.src[pos]
		if c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		pos++
	}
	p.pos = pos
}

// run parses the whole input. It alternates between reading a value and,
// once a value is complete, closing the containers it completes.
//
// The parser is iterative, and its scratch slices are locals of run that are
// appended to only here, so escape analysis keeps them on the stack for
// typical inputs: no allocation beyond the output.
func (p *parser) run() error {
	var spanBuf [32]span
	var frameBuf [16]frame
	var keyBuf [64]byte
	frames := frameBuf[:0] // the open containers, innermost last
	spans := spanBuf[:0]   // members of the open objects, innermost last
	keys := keyBuf[:0]     // decoded names that needed unescaping
	for {
		// Read one value, or open a container and read its first member
		// name; empty containers close at once.
		p.skipWS()
		if p.pos >= len(p.src) {
			if len(frames) == 0 && len(p.out) == p.base {
				return p.syntax("empty input")
			}
			return p.syntax("unexpected end of input")
		}
		switch c := p.src[p.pos]; {
		case c == '{' || c == '[':
			if len(frames) >= p.maxDepth {
				return auditerr.Errorf(auditerr.ErrTooDeep, "jcs: nesting deeper than %d at offset %d", p.maxDepth, p.pos)
			}
			p.pos++
			f := frame{obj: c == '{', start: len(p.out), first: len(spans), keysMark: len(keys)}
			p.out = append(p.out, c)
			p.skipWS()
			if p.pos < len(p.src) && p.src[p.pos] == c+2 { // '}' or ']'
				p.pos++
				p.out = append(p.out, c+2)
				break
			}
			if f.obj {
				sp, esc, err := p.memberName()
				if err != nil {
					return err
				}
				f.cur, keys = sp.withKey(esc, keys, p.out)
			}
			frames = append(frames, f)
			continue
		case c == '"':
			if _, err := p.string(); err != nil {
				return err
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if err := p.number(); err != nil {
				return err
			}
		case c == 't':
			if err := p.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := p.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := p.literal("null"); err != nil {
				return err
			}
		default:
			return p.syntax("unexpected character " + strconv.QuoteRuneToASCII(rune(c)))
		}
		// A value is complete: continue its container or close it.
		for {
			if err := p.checkOut(); err != nil {
				return err
			}
			p.skipWS()
			if len(frames) == 0 {
				if p.pos != len(p.src) && !p.value {
					return p.syntax("data after the top-level value")
				}
				return nil
			}
			f := &frames[len(frames)-1]
			if f.obj {
				f.cur.end = len(p.out)
				spans = append(spans, f.cur)
			}
			if p.pos >= len(p.src) {
				return p.syntax("unterminated array or object")
			}
			c := p.src[p.pos]
			if c == ',' {
				p.pos++
				p.out = append(p.out, ',')
				if f.obj {
					sp, esc, err := p.memberName()
					if err != nil {
						return err
					}
					f.cur, keys = sp.withKey(esc, keys, p.out)
				}
				break
			}
			if f.obj && c == '}' {
				p.pos++
				if err := p.sortMembers(f.start, spans[f.first:], keys); err != nil {
					return err
				}
				p.out = append(p.out, '}')
				spans = spans[:f.first]
				keys = keys[:f.keysMark]
			} else if !f.obj && c == ']' {
				p.pos++
				p.out = append(p.out, ']')
			} else if f.obj {
				return p.syntax("expected ',' or '}' in object")
			} else {
				return p.syntax("expected ',' or ']' in array")
			}
			frames = frames[:len(frames)-1]
		}
	}
}

// memberName reads `"name":` and returns the member's span so far and
// whether its canonical name contains an escape.
func (p *parser) memberName() (span, bool, error) {
	p.skipWS()
	if p.pos >= len(p.src) || p.src[p.pos] != '"' {
		return span{}, false, p.syntax("expected a member name")
	}
	sp := span{start: len(p.out)}
	escaped, err := p.string()
	if err != nil {
		return span{}, false, err
	}
	sp.kOff = sp.start + 1
	sp.kLen = len(p.out) - 1 - sp.kOff
	p.skipWS()
	if p.pos >= len(p.src) || p.src[p.pos] != ':' {
		return span{}, false, p.syntax("expected ':' after member name")
	}
	p.pos++
	p.out = append(p.out, ':')
	return sp, escaped, nil
}

// withKey returns sp with its name decoded into keys when the canonical name
// holds escapes, and the grown keys.
func (sp span) withKey(escaped bool, keys, out []byte) (span, []byte) {
	if !escaped {
		return sp, keys
	}
	off := len(keys)
	keys = appendUnescaped(keys, out[sp.kOff:sp.kOff+sp.kLen])
	sp.kOff, sp.kLen, sp.inKeys = off, len(keys)-off, true
	return sp, keys
}

func (p *parser) literal(lit string) error {
	if len(p.src)-p.pos < len(lit) || string(p.src[p.pos:p.pos+len(lit)]) != lit {
		return p.syntax("invalid literal")
	}
	p.pos += len(lit)
	p.out = append(p.out, lit...)
	return nil
}

func (p *parser) key(sp *span, keys []byte) []byte {
	if sp.inKeys {
		return keys[sp.kOff : sp.kOff+sp.kLen]
	}
	return p.out[sp.kOff : sp.kOff+sp.kLen]
}

// sortMembers puts the members of the object whose '{' is at out[objStart]
// into canonical order, refusing duplicate names.
func (p *parser) sortMembers(objStart int, ms []span, keys []byte) error {
	sorted := true
	for i := 1; i < len(ms); i++ {
		c := compareUTF16(p.key(&ms[i-1], keys), p.key(&ms[i], keys))
		if c == 0 {
			return p.duplicate(&ms[i], keys)
		}
		if c > 0 {
			sorted = false
		}
	}
	if sorted {
		return nil
	}
	// Sort a copy of the spans; the member texts stay where they are in out
	// until they are copied back in order.
	// Insertion sort compares every pair that ends up adjacent, so when no
	// comparison was equal there is no duplicate and the check below can
	// be skipped.
	equal := true
	if len(ms) <= 12 {
		equal = false
		for i := 1; i < len(ms); i++ {
			for j := i; j > 0; j-- {
				c := compareUTF16(p.key(&ms[j-1], keys), p.key(&ms[j], keys))
				if c <= 0 {
					equal = equal || c == 0
					break
				}
				ms[j-1], ms[j] = ms[j], ms[j-1]
			}
		}
	} else {
		p.heapSort(ms, keys)
	}
	for i := 1; equal && i < len(ms); i++ {
		if compareUTF16(p.key(&ms[i-1], keys), p.key(&ms[i], keys)) == 0 {
			return p.duplicate(&ms[i], keys)
		}
	}
	// Copy the members aside, then back in order. Small objects use the
	// stack; large ones the spare capacity past the end of the output.
	end := len(p.out)
	var small [1024]byte
	var tmp []byte
	if end-objStart <= len(small) {
		tmp = small[:copy(small[:], p.out[objStart:end])]
	} else {
		p.out = append(p.out, p.out[objStart:end]...)
		tmp = p.out[end:]
	}
	w := objStart + 1
	for i := range ms {
		if i > 0 {
			p.out[w] = ','
			w++
		}
		w += copy(p.out[w:], tmp[ms[i].start-objStart:ms[i].end-objStart])
	}
	p.out = p.out[:end]
	return nil
}

// heapSort sorts large objects' members by name. It is a heap sort
// rather than slices.SortFunc, whose generic pdqsort for this one type
// adds 15 KB to the WebAssembly module; it needs no memory and is
// O(n log n) on any input.
func (p *parser) heapSort(ms []span, keys []byte) {
	less := func(i, j int) bool { return compareUTF16(p.key(&ms[i], keys), p.key(&ms[j], keys)) < 0 }
	down := func(i, n int) {
		for {
			c := 2*i + 1
			if c >= n {
				return
			}
			if c+1 < n && less(c, c+1) {
				c++
			}
			if !less(i, c) {
				return
			}
			ms[i], ms[c] = ms[c], ms[i]
			i = c
		}
	}
	for i := len(ms)/2 - 1; i >= 0; i-- {
		down(i, len(ms))
	}
	for n := len(ms) - 1; n > 0; n-- {
		ms[0], ms[n] = ms[n], ms[0]
		down(0, n)
	}
}

func (p *parser) duplicate(sp *span, keys []byte) error {
	return auditerr.Errorf(auditerr.ErrInvalidJSON, "jcs: duplicate member name %s in the object ending at offset %d", strconv.Quote(string(p.key(sp, keys))), p.pos)
}

// string parses a JSON string at p.pos and appends its canonical form. It
// reports whether the canonical form contains an escape.
//
// Bytes that stay as they are — plain ASCII and valid multi-byte UTF-8 —
// are appended in one piece per run between escapes, not per character:
// under WebAssembly every append is a call to memmove.
func (p *parser) string() (bool, error) {
	src := p.src
	pos := p.pos + 1 // past the opening quote
	start := p.pos   // the pending run, from the opening quote
	escaped := false
	for {
		pos = plainRun(src, pos)
		if pos >= len(src) {
			p.pos = pos
			return false, p.syntax("unterminated string")
		}
		c := src[pos]
		switch {
		case c == '"':
			p.pos = pos + 1
			p.out = append(p.out, src[start:pos+1]...)
			return escaped, nil
		case c == '\\':
			p.out = append(p.out, src[start:pos]...)
			p.pos = pos
			r, err := p.escape()
			if err != nil {
				return false, err
			}
			pos = p.pos
			start = pos
			if r < 0x20 || r == '"' || r == '\\' {
				escaped = true
			}
			p.out = appendRune(p.out, r)
		case c < 0x20:
			p.pos = pos
			return false, p.syntax("control character in string")
		default:
			r, size := utf8.DecodeRune(src[pos:])
			if r == utf8.RuneError && size <= 1 {
				p.pos = pos
				return false, p.syntax("invalid UTF-8")
			}
			pos += size
		}
	}
}

// escape decodes the escape sequence at p.pos (the backslash).
func (p *parser) escape() (rune, error) {
	src := p.src
	if p.pos+1 >= len(src) {
		return 0, p.syntax("unterminated escape")
	}
	c := src[p.pos+1]
	p.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
	default:
		p.pos -= 2
		return 0, p.syntax("invalid escape")
	}
	r, ok := hex4(src, p.pos)
	if !ok {
		return 0, p.syntax("invalid \\u escape")
	}
	p.pos += 4
	switch {
	case r >= 0xDC00 && r <= 0xDFFF:
		p.pos -= 6
		return 0, p.syntax("lone low surrogate")
	case r >= 0xD800 && r <= 0xDBFF:
		if p.pos+6 > len(src) || src[p.pos] != '\\' || src[p.pos+1] != 'u' {
			p.pos -= 6
			return 0, p.syntax("lone high surrogate")
		}
		lo, ok := hex4(src, p.pos+2)
		if !ok || lo < 0xDC00 || lo > 0xDFFF {
			p.pos -= 6
			return 0, p.syntax("lone high surrogate")
		}
		p.pos += 6
		return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), nil
	}
	return r, nil
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number parses a JSON number and appends its ECMAScript form.
func (p *parser) number() error {
	src := p.src
	start := p.pos
	if src[p.pos] == '-' {
		p.pos++
	}
	digits := p.pos
	if p.pos >= len(src) {
		return p.syntax("invalid number")
	}
	switch c := src[p.pos]; {
	case c == '0':
		p.pos++
		if p.pos < len(src) && src[p.pos] >= '0' && src[p.pos] <= '9' {
			return p.syntax("leading zero in number")
		}
	case c >= '1' && c <= '9':
		for p.pos < len(src) && src[p.pos] >= '0' && src[p.pos] <= '9' {
			p.pos++
		}
	default:
		return p.syntax("invalid number")
	}
	intEnd := p.pos
	simple := true
	if p.pos < len(src) && src[p.pos] == '.' {
		simple = false
		p.pos++
		if !p.digits() {
			return p.syntax("digit expected after decimal point")
		}
	}
	if p.pos < len(src) && (src[p.pos] == 'e' || src[p.pos] == 'E') {
		simple = false
		p.pos++
		if p.pos < len(src) && (src[p.pos] == '+' || src[p.pos] == '-') {
			p.pos++
		}
		if !p.digits() {
			return p.syntax("digit expected in exponent")
		}
	}
	lit := src[start:p.pos]
	var ok bool
	// Integers of up to 15 digits are exact doubles that ECMAScript writes
	// digit for digit.
	if simple && intEnd-digits <= 15 {
		if src[digits] == '0' {
			p.out = append(p.out, '0') // 0 and -0
		} else {
			p.out = append(p.out, lit...)
		}
		return nil
	}
	if p.out, ok = appendShortDecimal(p.out, src[start:intEnd], src[intEnd:p.pos]); ok {
		return nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		p.pos = start
		if p.exact {
			return auditerr.Errorf(auditerr.ErrInexactNumber, "jcs: the number %s at offset %d is beyond the IEEE-754 double range; send it as a string", clipNumber(lit), start)
		}
		return p.syntax("number outside the IEEE-754 double range")
	}
	mark := len(p.out)
	p.out = AppendNumber(p.out, f)
	if p.exact && !SameDecimal(lit, p.out[mark:]) {
		p.pos = start
		return auditerr.Errorf(auditerr.ErrInexactNumber, "jcs: the number %s at offset %d would be stored as %s; send it as a string to keep its exact value", clipNumber(lit), start, p.out[mark:])
	}
	return nil
}

// clipNumber returns a number's text for an error message, shortened when
// long.
func clipNumber(lit []byte) string {
	if len(lit) > 40 {
		return string(lit[:40]) + "..."
	}
	return string(lit)
}

func (p *parser) digits() bool {
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	return p.pos > start
}
