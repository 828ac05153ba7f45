package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"strconv"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns"
)

// Cursor layout (22 bytes, then unpadded base64url):
//
//	[0]     version (1)
//	[1]     order (0 ascending, 1 descending)
//	[2:10]  last seq returned, big-endian
//	[10:22] first 12 bytes of SHA-256 of the query's filters (filterHash)
const (
	cursorVersion = 1
	cursorLen     = 22
)

func encodeCursor(order hostfns.Order, last int64, fh [12]byte) string {
	var b [cursorLen]byte
	b[0] = cursorVersion
	b[1] = byte(order)
	binary.BigEndian.PutUint64(b[2:10], uint64(last))
	copy(b[10:], fh[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeCursor returns the seq to continue after, checking that the cursor
// was made for a query with this order and these filters.
func decodeCursor(s string, order hostfns.Order, fh [12]byte) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != cursorLen {
		return 0, auditerr.Errorf(auditerr.ErrInvalidCursor, "the cursor is malformed")
	}
	if b[0] != cursorVersion {
		return 0, auditerr.Errorf(auditerr.ErrInvalidCursor, "the cursor has unknown version %d", b[0])
	}
	if hostfns.Order(b[1]) != order || [12]byte(b[10:]) != fh {
		return 0, auditerr.Errorf(auditerr.ErrInvalidCursor, "the cursor belongs to another query; repeat the filters it was issued for")
	}
	seq := int64(binary.BigEndian.Uint64(b[2:10]))
	if seq < 0 {
		return 0, auditerr.Errorf(auditerr.ErrInvalidCursor, "the cursor is malformed")
	}
	return seq, nil
}

// filterHash digests everything that selects events — route, order, the
// scope the key imposes and every filter — but not the page size or the
// position, so a cursor stays valid with another limit and nothing else.
func filterHash(route string, q *hostfns.Query) [12]byte {
	h := sha256.New()
	field := func(name, v string) {
		// Length-prefixed, so no two filter sets share an encoding.
		h.Write([]byte(name))
		h.Write([]byte(strconv.Itoa(len(v))))
		h.Write([]byte{':'})
		h.Write([]byte(v))
	}
	field("route", route)
	field("order", strconv.Itoa(int(q.Order)))
	field("tenant", q.Tenant)
	types := slices.Clone(q.Types)
	slices.Sort(types)
	for _, t := range slices.Compact(types) {
		field("type", t)
	}
	field("entity", q.EntityURI)
	field("oidc", q.OIDCSub)
	if q.Source != nil {
		field("source", *q.Source)
	}
	field("fact", q.FactID)
	field("outcome", q.Outcome)
	field("scope", q.Scope)
	if q.Attested != nil {
		field("attested", strconv.FormatBool(*q.Attested))
	}
	field("since", q.Since)
	field("until", q.Until)
	var out [12]byte
	copy(out[:], h.Sum(nil))
	return out
}
