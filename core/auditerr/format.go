package auditerr

import (
	"strconv"
	"unicode/utf8"
)

// Errorf formats messages with appendf, a small formatter for the verbs and
// argument types that stigaudit's messages use, written to give exactly what
// fmt.Sprintf gives for them (format_test.go compares the two). It keeps fmt,
// and with it reflect, out of the WebAssembly module (about 0.35 MB once
// nothing else in the module links fmt), and the same code runs natively,
// so every host words a message alike. Anything else is passed to fallback:
// fmt.Sprintf natively, a plain rendering in the module.
//
// Handled: %% and the verbs
//
//	%d      integers
//	%x %X   integers (with width and the 0 flag), strings, []byte, [32]byte
//	%s      strings, []byte, Code, error, Stringer
//	%v      the same, integers, bool, nil
//	%q      strings, []byte, Code, error, Stringer, rune (int32); with a precision
func appendf(dst []byte, format string, args []any) ([]byte, bool) {
	argi := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		// %[0][width][.prec]verb
		i++
		zero := false
		if i < len(format) && format[i] == '0' {
			zero = true
			i++
		}
		width, prec := -1, -1
		width, i = atoi(format, i)
		if i < len(format) && format[i] == '.' {
			prec, i = atoi(format, i+1)
			if prec < 0 {
				prec = 0
			}
		}
		if i >= len(format) {
			return dst, false
		}
		verb := format[i]
		if verb == '%' && !zero && width < 0 && prec < 0 {
			dst = append(dst, '%')
			continue
		}
		if argi >= len(args) {
			return dst, false
		}
		var ok bool
		dst, ok = appendArg(dst, verb, zero, width, prec, args[argi])
		if !ok {
			return dst, false
		}
		argi++
	}
	return dst, argi == len(args)
}

// atoi reads a decimal number at s[i:], returning -1 when there is none.
func atoi(s string, i int) (int, int) {
	n := -1
	for i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 1e6 {
		if n < 0 {
			n = 0
		}
		n = n*10 + int(s[i]-'0')
		i++
	}
	return n, i
}

func appendArg(dst []byte, verb byte, zero bool, width, prec int, arg any) ([]byte, bool) {
	switch verb {
	case 'd', 'x', 'X':
		if v, neg, ok := integer(arg); ok && prec < 0 {
			if verb == 'd' {
				return pad(dst, v, neg, 10, false, zero, width), true
			}
			return pad(dst, v, neg, 16, verb == 'X', zero, width), true
		}
		if verb == 'd' || zero || width >= 0 || prec >= 0 {
			return dst, false
		}
		var b []byte
		switch v := arg.(type) {
		case string:
			return appendHex(dst, []byte(v), verb == 'X'), true
		case []byte:
			b = v
		case [32]byte:
			b = v[:]
		default:
			return dst, false
		}
		return appendHex(dst, b, verb == 'X'), true
	case 's', 'v', 'q':
		if zero || width >= 0 || prec >= 0 && verb != 'q' {
			return dst, false
		}
		var s string
		switch v := arg.(type) {
		case string:
			s = v
		case []byte:
			if verb == 'v' {
				return dst, false // fmt writes [1 2 3]
			}
			s = string(v)
		case Code:
			s = string(v)
		case error:
			var ok bool
			if s, ok = call(v.Error); !ok {
				return dst, false
			}
		case interface{ String() string }:
			var ok bool
			if s, ok = call(v.String); !ok {
				return dst, false
			}
		case int32:
			if verb != 'q' || prec >= 0 {
				if verb == 'v' && prec < 0 {
					return strconv.AppendInt(dst, int64(v), 10), true
				}
				return dst, false
			}
			if !utf8.ValidRune(v) {
				v = utf8.RuneError
			}
			return strconv.AppendQuoteRune(dst, v), true
		case bool:
			if verb != 'v' {
				return dst, false
			}
			return strconv.AppendBool(dst, v), true
		case nil:
			if verb != 'v' {
				return dst, false
			}
			return append(dst, "<nil>"...), true
		default:
			if v, neg, ok := integer(arg); ok && verb == 'v' {
				return pad(dst, v, neg, 10, false, false, -1), true
			}
			return dst, false
		}
		if verb != 'q' {
			return append(dst, s...), true
		}
		if prec >= 0 {
			s = truncate(s, prec)
		}
		return strconv.AppendQuote(dst, s), true
	}
	return dst, false
}

// call runs an Error or String method; ok is false when it panics (as
// methods of nil pointers do), which fmt reports in its own way.
func call(f func() string) (s string, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return f(), true
}

// truncate returns the first n runes of s, as fmt's precision does.
func truncate(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// integer returns the magnitude and sign of an integer argument.
func integer(arg any) (uint64, bool, bool) {
	var i int64
	switch v := arg.(type) {
	case int:
		i = int64(v)
	case int8:
		i = int64(v)
	case int16:
		i = int64(v)
	case int32:
		i = int64(v)
	case int64:
		i = v
	case uint:
		return uint64(v), false, true
	case uint8:
		return uint64(v), false, true
	case uint16:
		return uint64(v), false, true
	case uint32:
		return uint64(v), false, true
	case uint64:
		return v, false, true
	case uintptr:
		return uint64(v), false, true
	default:
		return 0, false, false
	}
	if i < 0 {
		return uint64(-i), true, true // -MinInt64 wraps to its magnitude
	}
	return uint64(i), false, true
}

// pad appends an integer as fmt does for %d, %x and %X with an optional
// width and 0 flag: zeros go after the sign, spaces before it.
func pad(dst []byte, v uint64, neg bool, base int, upper, zero bool, width int) []byte {
	var buf [72]byte
	d := strconv.AppendUint(buf[:0], v, base)
	if upper {
		for i, c := range d {
			if c >= 'a' && c <= 'f' {
				d[i] = c - 'a' + 'A'
			}
		}
	}
	n := len(d)
	if neg {
		n++
	}
	if !zero {
		for ; n < width; n++ {
			dst = append(dst, ' ')
		}
	}
	if neg {
		dst = append(dst, '-')
	}
	if zero {
		for ; n < width; n++ {
			dst = append(dst, '0')
		}
	}
	return append(dst, d...)
}

func appendHex(dst, b []byte, upper bool) []byte {
	digits := "0123456789abcdef"
	if upper {
		digits = "0123456789ABCDEF"
	}
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&0x0F])
	}
	return dst
}

func sprintf(format string, args []any) string {
	if b, ok := appendf(make([]byte, 0, len(format)+32), format, args); ok {
		return string(b)
	}
	return fallback(format, args)
}
