package sink

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/stigaudit/stigaudit/core/event"
)

// File appends committed events to a file as JSON lines: one event object
// per line, exactly as the HTTP API returns it (event.AppendJSON), in seq
// order. The file is created with mode 0600 if missing and only ever
// appended to, so it can be shipped by log collectors or tailed.
//
// Durability: every Write ends with fsync, so a batch the sink has written
// survives a crash, and only then does the sink's cursor move past it. A
// Write that fails part-way truncates the file back to its last complete
// line, and OpenFile cuts off a torn last line left by a crash (kill -9
// mid-write), so a reader never meets a torn line followed by good ones.
// Delivery is at least once (see Dispatcher): after a crash the file may
// hold events written after the last saved cursor twice, never a gap.
type File struct {
	path string

	mu  sync.Mutex
	f   *os.File
	off int64 // size after the last complete Write
	buf []byte
}

// OpenFile opens (creating it if needed) the file at path for appending.
// A last line without its newline — a Write cut short by a crash, whose
// events were therefore not delivered — is cut off.
func OpenFile(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sink: opening %s: %w", path, err)
	}
	off, err := completeLines(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sink: opening %s: %w", path, err)
	}
	return &File{path: path, f: f, off: off}, nil
}

// completeLines truncates f after its last newline, if anything follows
// it, and returns f's size.
func completeLines(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	buf := make([]byte, 4096)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			keep := start + int64(i) + 1
			if keep == size {
				return size, nil
			}
			return keep, truncateSync(f, keep)
		}
		end = start
	}
	if size == 0 {
		return 0, nil
	}
	return 0, truncateSync(f, 0) // one torn line and nothing else
}

func truncateSync(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("cutting off a torn last line: %w", err)
	}
	return f.Sync()
}

// Name returns "file:" followed by the path.
func (s *File) Name() string { return "file:" + s.path }

// Write appends one line per event and fsyncs.
func (s *File) Write(_ context.Context, events []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("sink: %s is closed", s.path)
	}
	b := s.buf[:0]
	for i := range events {
		b = event.AppendJSON(b, &events[i])
		b = append(b, '\n')
	}
	s.buf = b
	if _, err := s.f.Write(b); err != nil {
		// O_APPEND writes land at the end; cut a partial line back off.
		_ = s.f.Truncate(s.off)
		return fmt.Errorf("sink: writing %s: %w", s.path, err)
	}
	s.off += int64(len(b))
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sink: syncing %s: %w", s.path, err)
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not keep a large batch's buffer forever
	}
	return nil
}

// Close closes the file.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("sink: closing %s: %w", s.path, err)
	}
	return nil
}
