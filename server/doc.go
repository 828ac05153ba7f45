// Package server is the home of the stigaudit reference server: an HTTP front
// end (echo) over the Go library API of package stigaudit.
//
// The server adds what a network service needs and the library does not: API
// keys and permissions (server/auth), Prometheus metrics and the post-commit
// fan-out to sinks (server/metrics, server/sink), and the HTTP routes of
// SPEC §7 (server/api). The binary that wires them together lives in
// server/cmd/stigaudit.
package server
