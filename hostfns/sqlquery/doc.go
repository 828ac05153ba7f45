// Package sqlquery is what the SQL stores (sqlitestore, pgstore) and the
// offline verifier share about reading the events table: the select list
// of an event, the scan of its rows into event.Event, the WHERE terms of a
// hostfns.Query's filters and the cut of a page. Each store keeps what its
// dialect and indexes make different: placeholders, the time bounds, the
// durable prefix, the keyset and the order.
package sqlquery
