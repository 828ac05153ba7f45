// Package uuid7 generates RFC 9562 version 7 UUIDs and normalises UUID text.
//
// A version 7 UUID starts with the 48-bit Unix time in milliseconds, so ids
// generated later sort later, as text and as bytes; the remaining 74 bits
// (after the 4-bit version and 2-bit variant) are random. The package reads
// no clock and no random source of its own: the caller passes the time and
// an entropy reader, which keeps the core deterministic under test and
// identical inside WebAssembly, where the host supplies both.
//
// Normalize accepts any RFC 9562 UUID written as 8-4-4-4-12 hexadecimal
// digits in either case (not only version 7: clients may bring their own
// ids) and returns the lower-case form that is stored and hashed.
package uuid7
