// Package hostfns is the host side of stigaudit: the services the pure core
// needs but must not own — a clock, an entropy source and durable storage —
// as small interfaces with their implementations.
//
// The core (package core/...) builds and hashes events from values; a host
// reads the clock, draws randomness and appends the result to a Store. The
// native Go path and the WebAssembly path (whose imports clock_now and
// store_append are backed by these same interfaces) therefore write into one
// store with one set of guarantees.
//
// Implementations live in sub-packages named for what they store into:
// memstore (tests and embedding), sqlitestore (the default) and pgstore
// (several replicas on one PostgreSQL); wazerohost binds them to the
// WebAssembly module's imports.
package hostfns
