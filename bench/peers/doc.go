// Command peers measures durable audit appends side by side: stigaudit in
// process and over HTTP, the seed's emit path re-enacted on
// modernc.org/sqlite, and transparency-dev/tessera v1.0.4's POSIX log, on
// the same machine, the same disk, the same fsync-before-acknowledge rule
// and the same event of about 300 bytes, at 1, 8 and 64 concurrent writers.
//
// It is a module of its own (bench/peers/go.mod, with a replace of the
// stigaudit module by this tree) so that the main module gains no
// dependency on its peers; see docs/decisions.md, "Peers are benchmarked
// from a module of their own".
//
// Usage, from the repository root:
//
//	make bench-peers
//	make bench-peers PEERS_FLAGS="--duration 1s --repeats 5"
//	cd bench/peers && go run . [--duration 2s] [--repeats 3] [--writers 1,8,64] [--only WORD,...] [--dir D] [--json] [--save FILE.json]
//
// Every cell (one peer at one concurrency) runs for --duration on a fresh
// store in a temporary directory under --dir (default: the working
// directory, so the disk is the repository's and not a tmpfs), and is
// repeated --repeats times; the table reports the median run by events/s.
// A call counts only once the peer has made it durable: stigaudit's Emit
// after the commit with synchronous=FULL, the HTTP 201 after that commit,
// the seed's commit with synchronous=FULL, and tessera's index future, which
// the POSIX driver resolves once the entry is fsynced, sequenced and
// integrated into the tree.
package main
