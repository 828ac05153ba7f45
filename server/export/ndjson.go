package export

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
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
	if Purged(e) {
		n.line = append(appendPurgedLine(n.line[:0], e, proof), '\n')
		_, err := n.w.Write(n.line)
		return err
	}
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
			return proof.AppendCanonicalJSON(b)
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

// Reader reads an NDJSON export in the style of bufio.Scanner:
//
//	r := export.NewReader(f)
//	defer r.Close()
//	for r.Next() {
//		e, proof, content := r.Event(), r.Proof(), r.ContentHash()
//	}
//	if err := r.Err(); err != nil { ... }
//	t := r.Trailer() // the checkpoint line
//
// Next returns false at the checkpoint line (which must be the last), at
// the end of the input, or on an error. Lines are parsed and hashed in
// parallel, a batch at a time, by GOMAXPROCS workers and handed out in
// order; memory stays bounded by the batches in flight.
type Reader struct {
	br     *bufio.Reader
	quit   chan struct{}
	closed bool
	order  chan *batch
	free   chan *batch
	cur    *batch
	i      int
	it     *item
	err    error
	done   bool
	tr     *Trailer
	line   int
}

// Batching: lines per batch and batches in flight.
const (
	batchLines = 512
	batchBytes = 256 << 10
)

// batch is a run of lines, parsed by one worker.
type batch struct {
	buf   []byte
	ends  []int // line i is buf[ends[i-1]:ends[i]]
	first int   // number of the first line
	rerr  error // read error after the last line
	items []item
	done  chan struct{}
}

// item is one parsed line.
type item struct {
	ev       event.Event
	proof    merkle.InclusionProof
	hasProof bool
	content  [merkle.HashSize]byte
	trailer  *Trailer
	err      error
}

// NewReader returns a Reader of r. Call Close when stopping before Next
// returns false.
func NewReader(r io.Reader) *Reader {
	workers := runtime.GOMAXPROCS(0)
	rd := &Reader{
		br:    bufio.NewReaderSize(r, 1<<20),
		quit:  make(chan struct{}),
		order: make(chan *batch, 2*workers),
		free:  make(chan *batch, 4*workers),
	}
	work := make(chan *batch, 2*workers)
	go rd.produce(work)
	for w := 0; w < workers; w++ {
		go parseBatches(work)
	}
	return rd
}

// produce reads lines into batches and hands each to the workers and, in
// order, to Next.
func (r *Reader) produce(work chan<- *batch) {
	defer close(work)
	defer close(r.order)
	line := 1
	var long []byte
	for {
		b := r.newBatch(line)
		for len(b.ends) < batchLines && len(b.buf) < batchBytes {
			l, err := readLine(r.br, &long, line)
			if err != nil {
				if err != io.EOF {
					b.rerr = err
				}
				break
			}
			b.buf = append(b.buf, l...)
			b.ends = append(b.ends, len(b.buf))
			line++
		}
		last := b.rerr != nil || len(b.ends) < batchLines && len(b.buf) < batchBytes
		select {
		case work <- b:
		case <-r.quit:
			return
		}
		select {
		case r.order <- b:
		case <-r.quit:
			return
		}
		if last {
			return
		}
	}
}

// newBatch takes a batch from the free list, or makes one.
func (r *Reader) newBatch(first int) *batch {
	var b *batch
	select {
	case b = <-r.free:
		b.buf, b.ends, b.rerr = b.buf[:0], b.ends[:0], nil
	default:
		b = &batch{buf: make([]byte, 0, batchBytes+16<<10), ends: make([]int, 0, batchLines), items: make([]item, 0, batchLines)}
	}
	b.first, b.done = first, make(chan struct{})
	return b
}

// recycle hands a consumed batch back to the producer.
func (r *Reader) recycle(b *batch) {
	select {
	case r.free <- b:
	default:
	}
}

// parseBatches is a worker: it parses every line of each batch.
func parseBatches(work <-chan *batch) {
	var scratch []byte
	for b := range work {
		b.items = b.items[:len(b.ends)]
		start := 0
		for i, end := range b.ends {
			it := &b.items[i]
			scratch = parseLine(it, b.buf[start:end], scratch)
			if it.err != nil {
				it.err = fmt.Errorf("line %d: %w", b.first+i, it.err)
			}
			start = end
		}
		close(b.done)
	}
}

// parseLine parses one line into it: an event (with its proof and the leaf
// hash of its content) or the checkpoint line.
func parseLine(it *item, line, scratch []byte) []byte {
	*it = item{} // batches are reused
	if bytes.HasPrefix(line, []byte(`{"checkpoint":`)) {
		t, err := parseTrailer(line)
		it.trailer, it.err = &t, err
		return scratch
	}
	if bytes.Contains(line, []byte(`"proof":`)) {
		var err error
		if line, err = cutProof(it, line); err != nil {
			it.err = err
			return scratch
		}
	}
	if bytes.Contains(line, []byte(`"purged":true`)) {
		it.ev, it.err = parsePurgedLine(line)
		it.content = it.ev.LeafHash // the content is gone; the leaf is kept
		return scratch
	}
	ev, err := event.ParseEvent(line)
	if err != nil {
		it.err = err
		return scratch
	}
	if ev.Seq < 0 {
		it.err = auditerr.Errorf(auditerr.ErrMissingField, "an exported event must carry its seq")
		return scratch
	}
	it.ev = ev
	scratch = event.AppendCanonical(scratch[:0], &it.ev)
	it.content = event.LeafHash(scratch)
	return scratch
}

// readLine returns the next line without its line ending; the slice is
// valid until the next call.
func readLine(br *bufio.Reader, long *[]byte, lineNo int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		*long = append((*long)[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(*long) > MaxLineBytes {
				return nil, auditerr.Errorf(auditerr.ErrTooLarge, "line %d is longer than %d bytes", lineNo, MaxLineBytes)
			}
			line, err = br.ReadSlice('\n')
			*long = append(*long, line...)
		}
		line = *long
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

// Next advances to the next event line.
func (r *Reader) Next() bool {
	for !r.done {
		if r.cur == nil || r.i == len(r.cur.items) {
			if r.cur != nil && r.cur.rerr != nil {
				r.fail(r.cur.rerr)
				break
			}
			b, ok := <-r.order
			if !ok {
				r.done = true
				break
			}
			<-b.done
			if r.cur != nil {
				r.recycle(r.cur)
			}
			r.cur, r.i = b, 0
			continue
		}
		it := &r.cur.items[r.i]
		r.line = r.cur.first + r.i
		r.i++
		if r.tr != nil {
			if r.isBlank() { // a stray line ending at the end of the file
				continue
			}
			r.fail(auditerr.Errorf(auditerr.ErrInvalidInput, "line %d: data after the checkpoint line", r.line))
			break
		}
		if it.err != nil {
			r.fail(it.err)
			break
		}
		if it.trailer != nil {
			r.tr = it.trailer
			continue // only blank lines may follow
		}
		r.it = it
		return true
	}
	r.Close()
	return false
}

// isBlank reports whether the current line is empty.
func (r *Reader) isBlank() bool {
	b := r.cur
	i := r.i - 1
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return len(bytes.TrimSpace(b.buf[start:b.ends[i]])) == 0
}

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.done = true
}

// Close stops reading. It is safe to call more than once.
func (r *Reader) Close() {
	if !r.closed {
		r.closed = true
		r.done = true
		close(r.quit)
	}
}

// cutProof removes the top-level "proof" member from line, decoding it.
func cutProof(it *item, line []byte) ([]byte, error) {
	members := jcs.Members(line)
	for members.Next() {
		m := members.Member()
		if !m.NameIs("proof") {
			continue
		}
		if err := it.proof.UnmarshalJSON(m.Value); err != nil {
			return nil, err
		}
		it.hasProof = true
		// m.Key and m.Value are views into line: their offsets follow
		// from the capacities.
		start := cap(line) - cap(m.Key) - 1 // the opening quote of the name
		end := cap(line) - cap(m.Value) + len(m.Value)
		if line[end] == ',' {
			end++
		} else if line[start-1] == ',' {
			start--
		}
		return append(line[:start:start], line[end:]...), nil
	}
	if err := members.Err(); err != nil {
		return nil, err
	}
	return line, nil // "proof": inside a string or nested value
}

// Event returns the event of the current line (valid until Next).
func (r *Reader) Event() *event.Event { return &r.it.ev }

// Proof returns the current event's inclusion proof, or nil.
func (r *Reader) Proof() *merkle.InclusionProof {
	if !r.it.hasProof {
		return nil
	}
	return &r.it.proof
}

// ContentHash returns the leaf hash of the current event's content,
// SHA-256(0x00 ‖ canonical event), computed while parsing; verification
// compares it with Event().LeafHash, the hash the line claims.
func (r *Reader) ContentHash() [merkle.HashSize]byte { return r.it.content }

// Line returns the number of the line read last, from 1.
func (r *Reader) Line() int { return r.line }

// Trailer returns the checkpoint line, once Next has returned false; nil
// when the input ended without one.
func (r *Reader) Trailer() *Trailer { return r.tr }

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
