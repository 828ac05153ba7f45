// Package secretfile writes the server's small secret files — the
// bootstrap admin key, the checkpoint signing key, the redaction salt, the
// webhook secret — so that each appears whole or not at all, with mode
// 0600 whatever the umask, and survives a crash once written: the bytes go
// to a temporary file in the same directory, which is synced and then
// moved into place, and the directory is synced after.
package secretfile
