// Package health is the server's readiness: named checks that GET /readyz
// runs, each saying in one sentence why the server should not be sent
// traffic — the store is not the file it opened or its last commit failed,
// the disk is nearly full, the checkpointer refuses to sign or has fallen
// behind a growing log.
package health
