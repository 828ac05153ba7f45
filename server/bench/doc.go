// Package bench measures durable emit throughput and acknowledgement
// latency, in process or over HTTP, for `stigaudit bench emit`.
//
// A run starts C concurrent emitters that together send N events (one per
// call, or batches of B over HTTP) and records, for every call, the time
// from send to acknowledgement. The acknowledgement is the durable one: for
// the in-process driver Emit returns after the commit, for HTTP the server
// answers after it. With Baseline the same load is repeated against a fresh
// store that commits one transaction per event — the seed's way — so the
// report can state the group-commit ratio measured in the same run.
package bench
