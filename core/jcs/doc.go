// Package jcs implements the JSON Canonicalization Scheme of RFC 8785.
//
// Two JSON texts that mean the same thing — the same members in another
// order, other whitespace, "\u0041" instead of "A", 1e2 instead of 100 — have
// one canonical form, and only that form is hashed and compared. The rules:
//
//   - no whitespace between tokens;
//   - object members sorted by the UTF-16 code units of their names (not by
//     UTF-8 bytes: U+FFFF sorts after U+10000 in UTF-8 but before it here);
//   - strings escape only '"', '\\' and the C0 controls, using \b \t \n \f \r
//     where they exist and lower-case \u00xx otherwise; every other character,
//     including '/', DEL and U+2028, is written as raw UTF-8;
//   - numbers are IEEE-754 doubles written the way ECMAScript's
//     Number.prototype.toString writes them: 1e2 is 100, 1e21 is 1e+21,
//     0.0000001 is 1e-7, -0 is 0, and integers beyond 2^53 are rounded to
//     the nearest double exactly as a JavaScript host would round them.
//
// Canonicalize is also a strict RFC 8259 parser: it refuses what RFC 8785
// cannot canonicalise or what would make two hosts disagree — invalid UTF-8,
// lone surrogates in \u escapes, duplicate member names, leading zeros,
// numbers outside the double range, trailing data, a byte order mark. It
// enforces Limits on the input size, the output size and the nesting depth,
// each with its own error code, and it never panics on any input. With
// Limits.ExactNumbers it also refuses (inexact_number) every number whose
// canonical form has another decimal value than the number as written
// (SameDecimal), for inputs whose numbers are evidence.
//
// The package is written for speed inside WebAssembly: one pass, no
// reflection, no encoding/json, no allocation beyond the output for typical
// objects. Code that builds known objects writes member names and strings
// with AppendString in sorted order itself.
//
// Members and Elements walk canonical text without parsing it into values,
// so callers can check required keys or merge two canonical objects in one
// sorted pass:
//
//	it := jcs.Members(canonical)
//	for it.Next() {
//		m := it.Member()
//		if m.NameIs("direction") { ... m.Value ... }
//	}
//	if err := it.Err(); err != nil { ... }
package jcs
