package export

import (
	"bufio"
	"io"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/server/ocsf"
)

// OCSF writes the OCSF export format (format=ocsf): NDJSON with one OCSF
// record per line (ocsf.Encoder; its unmapped member keeps the seq, the
// leaf hash, the tenant, the fields OCSF has no attribute for and, in a
// filtered export, the inclusion proof), then the same checkpoint line as
// the NDJSON format — the one line that is not an OCSF record, recognised
// by its top-level "checkpoint" member. It buffers its output; End flushes
// it.
type OCSF struct {
	w    *bufio.Writer
	enc  *ocsf.Encoder
	line []byte
}

var _ Format = (*OCSF)(nil)

// NewOCSF returns an OCSF format writing to w, for the log called origin
// (the first line of its checkpoints); operator types get ocsf.Default.
func NewOCSF(w io.Writer, origin string) *OCSF {
	return NewOCSFWith(w, ocsf.NewEncoder(origin))
}

// NewOCSFWith returns an OCSF format writing to w with enc (for instance
// one that knows the log's catalogue, ocsf.Encoder.WithCatalogue).
func NewOCSFWith(w io.Writer, enc *ocsf.Encoder) *OCSF {
	return &OCSF{w: bufio.NewWriterSize(w, 256<<10), enc: enc}
}

// Begin writes nothing: OCSF lines have no header.
func (o *OCSF) Begin() error { return nil }

// Event writes one OCSF record line.
func (o *OCSF) Event(e *event.Event, proof *merkle.InclusionProof) error {
	o.line = append(o.enc.AppendRecord(o.line[:0], e, proof), '\n')
	_, err := o.w.Write(o.line)
	return err
}

// End writes the checkpoint line and flushes.
func (o *OCSF) End(t Trailer) error {
	o.line = append(AppendTrailer(o.line[:0], t), '\n')
	if _, err := o.w.Write(o.line); err != nil {
		return err
	}
	return o.w.Flush()
}
