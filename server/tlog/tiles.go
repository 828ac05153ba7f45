package tlog

import (
	"context"
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/api"
)

// TilesPrefix is where the C2SP tlog-tiles API is served (docs/tamper-evidence.md#tlog-tiles).
const TilesPrefix = "/v1/audit/tlog"

// MaxEntryBytes is the largest entry an entry bundle can hold: its length
// is a big-endian uint16.
const MaxEntryBytes = 65535

// TileWidth is the number of hashes in a full tile.
const TileWidth = 256

// Tiles serves the log as C2SP tlog-tiles, so that standard clients
// (tessera's fsck, witness feeders) read it:
//
//	GET /v1/audit/tlog/checkpoint                 the newest signed checkpoint (read)
//	GET /v1/audit/tlog/tile/<L>/<N>[.p/<W>]       hash tiles (read)
//	GET /v1/audit/tlog/tile/entries/<N>[.p/<W>]   entry bundles: canonical events (admin: the whole log)
//
// Tiles are served up to the newest signed checkpoint; full tiles are
// immutable and say so to caches.
type Tiles struct {
	// Tree reads the stored tree nodes (a level-0 tile is a range of
	// leaf hashes, read in one range scan); required.
	Tree hostfns.TreeReader
	// Store reads events by seq, for entry bundles; required.
	Store hostfns.Store
	// Checkpointer gives the newest signed checkpoint; required.
	Checkpointer *Checkpointer
}

// Checkpoint is GET /v1/audit/tlog/checkpoint: the newest signed checkpoint.
func (t *Tiles) Checkpoint(c echo.Context) error {
	if len(c.QueryParams()) > 0 {
		return auditerr.Errorf(auditerr.ErrInvalidParameter, "the tlog-tiles checkpoint takes no parameter")
	}
	s, ok := t.Checkpointer.Latest()
	if !ok {
		return auditerr.Errorf(auditerr.ErrNotFound, "no checkpoint has been signed yet")
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", s.Note)
}

// tilePath is a parsed tile/<L>/<N>[.p/<W>] (entries: L = -1).
type tilePath struct {
	level int
	index uint64
	width int // TileWidth for a full tile
}

// parseTilePath reads what follows "tile/".
func parseTilePath(p string) (tilePath, error) {
	bad := func() (tilePath, error) {
		return tilePath{}, auditerr.Errorf(auditerr.ErrNotFound, "no tile at %q: want tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]", p)
	}
	var tp tilePath
	level, rest, ok := strings.Cut(p, "/")
	if !ok {
		return bad()
	}
	if level == "entries" {
		tp.level = -1
	} else {
		l, err := strconv.Atoi(level)
		if err != nil || l < 0 || l > 63 || strconv.Itoa(l) != level {
			return bad()
		}
		tp.level = l
	}
	tp.width = TileWidth
	if i := strings.Index(rest, ".p/"); i >= 0 {
		w, err := strconv.Atoi(rest[i+3:])
		if err != nil || w < 1 || w > 255 || strconv.Itoa(w) != rest[i+3:] {
			return bad()
		}
		tp.width, rest = w, rest[:i]
	}
	elems := strings.Split(rest, "/")
	for i, el := range elems {
		last := i == len(elems)-1
		if !last {
			if !strings.HasPrefix(el, "x") {
				return bad()
			}
			el = el[1:]
		}
		if len(el) != 3 || strings.Trim(el, "0123456789") != "" {
			return bad()
		}
		d, _ := strconv.ParseUint(el, 10, 64)
		if tp.index > (1<<63)/1000 {
			return bad()
		}
		tp.index = tp.index*1000 + d
	}
	if len(elems) > 1 && strings.TrimLeft(elems[0][1:], "0") == "" {
		return bad() // a leading x000: the index has one canonical path
	}
	return tp, nil
}

// Tile is GET /v1/audit/tlog/tile/...: a hash tile or an entry bundle.
func (t *Tiles) Tile(c echo.Context) error {
	if len(c.QueryParams()) > 0 {
		return auditerr.Errorf(auditerr.ErrInvalidParameter, "tiles take no parameter")
	}
	tp, err := parseTilePath(c.Param("*"))
	if err != nil {
		return err
	}
	s, ok := t.Checkpointer.Latest()
	if !ok {
		return auditerr.Errorf(auditerr.ErrNotFound, "no checkpoint has been signed yet")
	}
	level := max(tp.level, 0)
	// The tile's hashes are the tree nodes at height 8*level, indices
	// index*256 .. index*256+width-1, each covering 256^level leaves.
	if level > 7 || tp.index > (s.Size>>(8*uint(level)))/TileWidth {
		return auditerr.Errorf(auditerr.ErrNotFound, "tile %s is beyond the signed tree of size %d", c.Param("*"), s.Size)
	}
	first := tp.index * TileWidth
	if (first+uint64(tp.width))<<(8*uint(level)) > s.Size {
		return auditerr.Errorf(auditerr.ErrNotFound, "tile %s is beyond the signed tree of size %d", c.Param("*"), s.Size)
	}
	// Full tiles never change. Hash tiles are only hashes, for any read key
	// and any cache; entry bundles hold every tenant's events and stay
	// private to the admin key that fetched them. Partial tiles are
	// short-lived.
	switch {
	case tp.width == TileWidth && tp.level >= 0:
		c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	case tp.width == TileWidth:
		c.Response().Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	default:
		c.Response().Header().Set("Cache-Control", "private, max-age=5")
	}
	ctx := c.Request().Context()
	if tp.level < 0 {
		if !api.PrincipalOf(c).IsAdmin() {
			return auditerr.Errorf(auditerr.ErrForbidden, "entry bundles hold every tenant's events: they are served to admin keys only")
		}
		b, err := t.bundle(ctx, int64(first), tp.width)
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, "application/octet-stream", b)
	}
	var hashes [][]byte

	if level == 0 {
		hashes, err = t.Tree.LeafHashes(ctx, int64(first), int64(first)+int64(tp.width))
	} else {
		ids := make([]merkle.NodeID, tp.width)
		for i := range ids {
			ids[i] = merkle.NodeID{Level: uint(8 * level), Index: first + uint64(i)}
		}
		hashes, err = t.Tree.ReadNodes(ctx, ids)
	}
	if err != nil {
		return err
	}
	out := make([]byte, 0, merkle.HashSize*len(hashes))
	for _, h := range hashes {
		out = append(out, h...)
	}
	return c.Blob(http.StatusOK, "application/octet-stream", out)
}

// bundle renders the entry bundle of the events [from, from+n): each
// event's canonical bytes after their big-endian uint16 length.
func (t *Tiles) bundle(ctx context.Context, from int64, n int) ([]byte, error) {
	page, err := t.Store.Query(ctx, hostfns.Query{Order: hostfns.Ascending, After: from - 1, Limit: n})
	if err != nil {
		return nil, err
	}
	if len(page.Events) != n {
		return nil, auditerr.Errorf(auditerr.ErrNotFound, "events %d to %d are not all stored", from, from+int64(n)-1)
	}
	var out []byte
	for i := range page.Events {
		e := &page.Events[i]
		if e.Seq != from+int64(i) {
			return nil, auditerr.Errorf(auditerr.ErrNotFound, "event %d is missing from the log", from+int64(i))
		}
		if e.EntityURI == "" {
			return nil, auditerr.Errorf(auditerr.ErrPurged, "event %d was purged by retention: its bytes are gone, its hash remains in the hash tiles", e.Seq)
		}
		canon := event.AppendCanonical(nil, e)
		if len(canon) > MaxEntryBytes {
			return nil, auditerr.Errorf(auditerr.ErrOutputTooLarge, "event %d is %d bytes, more than an entry bundle holds (%d)", e.Seq, len(canon), MaxEntryBytes)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(canon)))
		out = append(out, canon...)
	}
	return out, nil
}
