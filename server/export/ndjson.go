package export

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// NDJSON writes the NDJSON export format (see the package doc). It buffers
// its output; End flushes it.
type NDJSON struct {
	w     *bufio.Writer
	canon []byte
	line  []byte
}

var _ Format = (*NDJSON)(nil)

// NewNDJSON returns an NDJSON format writing to w.
func NewNDJSON(w io.Writer) *NDJSON {
	return &NDJSON{w: bufio.NewWriterSize(w, 256<<10)}
}

// Begin writes nothing: NDJSON has no header.
func (n *NDJSON) Begin() error { return nil }

// Event writes one event line.
func (n *NDJSON) Event(e *event.Event, proof *merkle.InclusionProof) error {
	n.canon = event.AppendCanonical(n.canon[:0], e)
	line, err := appendLine(n.line[:0], n.canon, e, proof)
	if err != nil {
		return err
	}
	n.line = append(line, '\n')
	_, err = n.w.Write(n.line)
	return err
}

// End writes the checkpoint line and flushes.
func (n *NDJSON) End(t Trailer) error {
	n.line = AppendTrailer(n.line[:0], t)
	n.line = append(n.line, '\n')
	if _, err := n.w.Write(n.line); err != nil {
		return err
	}
	return n.w.Flush()
}

// AppendLine appends the NDJSON line of e, without the newline: the RFC
// 8785 canonical form of the event object extended with "seq",
// "leaf_hash" and, when proof is not nil, "proof" (itself canonical:
// {"hashes","leaf_hash","seq","tree_size"}).
func AppendLine(dst []byte, e *event.Event, proof *merkle.InclusionProof) []byte {
	canon := event.AppendCanonical(nil, e)
	out, err := appendLine(dst, canon, e, proof)
	if err != nil {
		// AppendCanonical always writes a walkable object.
		panic(fmt.Sprintf("export: canonical event is not walkable: %v", err))
	}
	return out
}

// appendLine splices the extra members into the canonical object canon,
// each before the first member whose name sorts after it.
func appendLine(dst, canon []byte, e *event.Event, proof *merkle.InclusionProof) ([]byte, error) {
	type extra struct {
		name  string
		write func([]byte) []byte
	}
	extras := [3]extra{
		{"leaf_hash", func(b []byte) []byte {
			b = append(b, `"leaf_hash":"`...)
			b = merkle.AppendHex(b, e.LeafHash[:])
			return append(b, '"')
		}},
		{"proof", func(b []byte) []byte {
			b = append(b, `"proof":`...)
			return appendProof(b, proof)
		}},
		{"seq", func(b []byte) []byte {
			b = append(b, `"seq":`...)
			return strconv.AppendInt(b, e.Seq, 10)
		}},
	}
	todo := extras[:]
	if proof == nil {
		todo = []extra{extras[0], extras[2]}
	}
	dst = append(dst, '{')
	first := true
	sep := func() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
	}
	it := jcs.Members(canon)
	for it.Next() {
		m := it.Member()
		for len(todo) > 0 && m.CompareName(todo[0].name) > 0 {
			sep()
			dst = todo[0].write(dst)
			todo = todo[1:]
		}
		sep()
		dst = append(dst, '"')
		dst = append(dst, m.Key...)
		dst = append(dst, '"', ':')
		dst = append(dst, m.Value...)
	}
	if err := it.Err(); err != nil {
		return dst, err
	}
	for _, x := range todo {
		sep()
		dst = x.write(dst)
	}
	return append(dst, '}'), nil
}

// appendProof writes an inclusion proof as canonical JSON (members sorted).
func appendProof(b []byte, p *merkle.InclusionProof) []byte {
	b = append(b, `{"hashes":[`...)
	for i, h := range p.Hashes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = merkle.AppendHex(b, h)
		b = append(b, '"')
	}
	b = append(b, `],"leaf_hash":"`...)
	b = merkle.AppendHex(b, p.LeafHash[:])
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, p.Seq, 10)
	b = append(b, `,"tree_size":`...)
	b = strconv.AppendUint(b, p.TreeSize, 10)
	return append(b, '}')
}

// AppendTrailer appends the checkpoint line, without the newline:
// {"checkpoint":"<signed note>"}, with "filtered":true for a filtered
// export.
func AppendTrailer(dst []byte, t Trailer) []byte {
	dst = append(dst, `{"checkpoint":`...)
	dst = jcs.AppendString(dst, string(t.Checkpoint))
	if t.Filtered {
		dst = append(dst, `,"filtered":true`...)
	}
	return append(dst, '}')
}

// MaxLineBytes bounds one line of an NDJSON export when reading it. An
// event is at most 16 KiB of detail plus its fields; a proof at most 64
// hashes.
const MaxLineBytes = 1 << 20

// Reader reads an NDJSON export line by line, in constant memory, in the
// style of bufio.Scanner:
//
//	r := export.NewReader(f)
//	for r.Next() {
//		e, proof := r.Event(), r.Proof()
//	}
//	if err := r.Err(); err != nil { ... }
//	note := r.Checkpoint()
//
// Next returns false at the checkpoint line (which must be the last), at
// the end of the input, or on an error.
type Reader struct {
	br       *bufio.Reader
	ev       event.Event
	proof    merkle.InclusionProof
	hasProof bool
	lineNo   int
	trailer  *Trailer
	err      error
	done     bool
	long     []byte
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 1<<20)}
}

// Next reads the next event line.
func (r *Reader) Next() bool {
	if r.done {
		return false
	}
	line, err := r.readLine()
	if err != nil {
		r.done = true
		if err != io.EOF {
			r.err = err
		}
		return false
	}
	r.lineNo++
	if bytes.HasPrefix(line, []byte(`{"checkpoint":`)) {
		r.done = true
		t, err := parseTrailer(line)
		if err != nil {
			r.err = fmt.Errorf("line %d: %w", r.lineNo, err)
			return false
		}
		r.trailer = &t
		// Nothing may follow the checkpoint line.
		if rest, err := r.readLine(); err != io.EOF {
			if err == nil && len(bytes.TrimSpace(rest)) == 0 {
				if _, err2 := r.readLine(); err2 == io.EOF {
					return false
				}
			}
			r.err = auditerr.Errorf(auditerr.ErrInvalidInput, "line %d: data after the checkpoint line", r.lineNo+1)
		}
		return false
	}
	r.hasProof = false
	if bytes.Contains(line, []byte(`"proof":`)) {
		if line, err = r.cutProof(line); err != nil {
			r.err = fmt.Errorf("line %d: %w", r.lineNo, err)
			r.done = true
			return false
		}
	}
	if r.ev, err = event.ParseEvent(line); err != nil {
		r.err = fmt.Errorf("line %d: %w", r.lineNo, err)
		r.done = true
		return false
	}
	if r.ev.Seq < 0 {
		r.err = auditerr.Errorf(auditerr.ErrMissingField, "line %d: an exported event must carry its seq", r.lineNo)
		r.done = true
		return false
	}
	return true
}

// readLine returns the next line without its newline; the slice is valid
// until the next call.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		r.long = append(r.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(r.long) > MaxLineBytes {
				return nil, auditerr.Errorf(auditerr.ErrTooLarge, "line %d is longer than %d bytes", r.lineNo+1, MaxLineBytes)
			}
			line, err = r.br.ReadSlice('\n')
			r.long = append(r.long, line...)
		}
		line = r.long
	}
	if err == io.EOF && len(line) > 0 {
		err = nil // a last line without a newline
	}
	if err != nil {
		return nil, err
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// cutProof removes the top-level "proof" member from line, decoding it.
func (r *Reader) cutProof(line []byte) ([]byte, error) {
	it := jcs.Members(line)
	for it.Next() {
		m := it.Member()
		if !m.NameIs("proof") {
			continue
		}
		if err := r.proof.UnmarshalJSON(m.Value); err != nil {
			return nil, err
		}
		r.hasProof = true
		// Cut `"proof":<value>` and one adjacent comma.
		// m.Key and m.Value are views into line: their offsets follow
		// from the capacities.
		start := cap(line) - cap(m.Key) - 1 // the opening quote of the name
		end := cap(line) - cap(m.Value) + len(m.Value)
		if line[end] == ',' {
			end++
		} else if line[start-1] == ',' {
			start--
		}
		out := append(line[:start:start], line[end:]...)
		return out, nil
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return line, nil // "proof": inside a string or nested value
}

// Event returns the event of the current line (valid until Next).
func (r *Reader) Event() *event.Event { return &r.ev }

// Proof returns the current event's inclusion proof, or nil.
func (r *Reader) Proof() *merkle.InclusionProof {
	if !r.hasProof {
		return nil
	}
	return &r.proof
}

// Line returns the number of the line read last, from 1.
func (r *Reader) Line() int { return r.lineNo }

// Trailer returns the checkpoint line, once Next has returned false; nil
// when the input ended without one.
func (r *Reader) Trailer() *Trailer { return r.trailer }

// Err returns the first error met, or nil. A malformed line is an error
// naming its line number.
func (r *Reader) Err() error { return r.err }

// parseTrailer reads {"checkpoint":"...","filtered":true|false}.
func parseTrailer(line []byte) (Trailer, error) {
	var t Trailer
	canon, err := jcs.Canonicalize(nil, line, jcs.Limits{})
	if err != nil {
		return t, err
	}
	it := jcs.Members(canon)
	for it.Next() {
		m := it.Member()
		switch {
		case m.NameIs("checkpoint"):
			s, ok := jcs.Unquote(m.Value)
			if !ok {
				return t, auditerr.Errorf(auditerr.ErrInvalidField, "checkpoint must be a string")
			}
			t.Checkpoint = []byte(s)
		case m.NameIs("filtered"):
			switch string(m.Value) {
			case "true":
				t.Filtered = true
			case "false":
			default:
				return t, auditerr.Errorf(auditerr.ErrInvalidField, "filtered must be true or false")
			}
		default:
			return t, auditerr.Errorf(auditerr.ErrUnknownField, "unknown field %q in the checkpoint line", m.Name())
		}
	}
	return t, it.Err()
}
