package export

import (
	"bufio"
	"io"
	"strconv"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// CSVColumns are the columns of the CSV export format, in order (docs/api.md#csv).
var CSVColumns = [...]string{
	"seq", "id", "ts", "tenant_id", "event_type", "outcome", "entity_uri", "emitter", "oidc_sub",
	"fact_id", "source", "attested_key_id", "scope", "hlc", "detail", "leaf_hash",
}

// CSV writes the CSV export format: a header row of CSVColumns, then one
// record per event, RFC 4180 (CRLF line ends; a field holding a comma, a
// double quote, CR, LF or a leading space is quoted, its quotes doubled).
// Absent optional fields are empty cells; detail is its canonical JSON
// object; leaf_hash is lower-case hex.
//
// Formula-injection guard: a cell that would start with '=', '+', '-',
// '@', TAB or CR — characters that make spreadsheets evaluate it — is
// prefixed with a single quote ('), which spreadsheets show as text. The
// prefix is part of the cell: a program reading the file back strips a
// leading "'" from a cell whose second character is one of those six.
//
// CSV carries no checkpoint: End writes no trailer (a row of another shape
// would break CSV readers), it only flushes. Each record's leaf_hash can
// still be checked against a checkpoint and inclusion proof obtained
// separately. Proofs passed to Event are ignored.
//
// CSV buffers its output; End flushes it.
type CSV struct {
	w   *bufio.Writer
	row []byte
}

var _ Format = (*CSV)(nil)

// NewCSV returns a CSV format writing to w.
func NewCSV(w io.Writer) *CSV {
	return &CSV{w: bufio.NewWriterSize(w, 256<<10)}
}

// Begin writes the header row.
func (c *CSV) Begin() error {
	c.row = c.row[:0]
	for i, name := range CSVColumns {
		if i > 0 {
			c.row = append(c.row, ',')
		}
		c.row = append(c.row, name...)
	}
	c.row = append(c.row, '\r', '\n')
	_, err := c.w.Write(c.row)
	return err
}

// Event writes one record.
func (c *CSV) Event(e *event.Event, _ *merkle.InclusionProof) error {
	c.row = AppendCSVRecord(c.row[:0], e)
	_, err := c.w.Write(c.row)
	return err
}

// End flushes; CSV has no trailer.
func (c *CSV) End(Trailer) error { return c.w.Flush() }

// AppendCSVRecord appends the CSV record of e, CRLF included, with the
// quoting and formula guard of the CSV format.
func AppendCSVRecord(dst []byte, e *event.Event) []byte {
	dst = strconv.AppendInt(dst, e.Seq, 10)
	for _, v := range [...]string{e.ID, e.TS, e.Tenant, e.Type, e.Outcome, e.EntityURI, e.Emitter, e.OIDCSub,
		e.FactID, e.Source, e.AttestedKeyID, e.Scope, e.HLC} {
		dst = append(dst, ',')
		dst = AppendCSVField(dst, v)
	}
	dst = append(dst, ',')
	if e.Detail != nil {
		dst = appendCSVBytes(dst, e.Detail)
	}
	dst = append(dst, ',')
	dst = merkle.AppendHex(dst, e.LeafHash[:])
	return append(dst, '\r', '\n')
}

// AppendCSVField appends one CSV cell holding s, guarded and quoted as the
// CSV format says.
func AppendCSVField(dst []byte, s string) []byte {
	return appendCSV(dst, s)
}

func appendCSVBytes(dst, b []byte) []byte {
	return appendCSV(dst, b)
}

// appendCSV is AppendCSVField for strings and byte slices alike.
func appendCSV[T string | []byte](dst []byte, s T) []byte {
	if len(s) == 0 {
		return dst
	}
	guard := formulaStart(s[0])
	quote := s[0] == ' '
	for i := 0; i < len(s) && !quote; i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			quote = true
		}
	}
	if !quote {
		if guard {
			dst = append(dst, '\'')
		}
		return append(dst, s...)
	}
	dst = append(dst, '"')
	if guard {
		dst = append(dst, '\'')
	}
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, s[start:i+1]...)
			dst = append(dst, '"')
			start = i + 1
		}
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// formulaStart reports whether a cell starting with c would be evaluated
// by a spreadsheet.
func formulaStart(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}
