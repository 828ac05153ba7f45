package sink

import (
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
// survives a crash. A Write that fails part-way truncates the file back to
// its last complete line, so a reader never meets a torn line followed by
// good ones. Because the queue in front of the sink drops when full, the
// file may miss events (gaps in seq); the database is the record, and its
// Merkle tree proves what the file lacks.
type File struct {
	path string

	mu  sync.Mutex
	f   *os.File
	off int64 // size after the last complete Write
	buf []byte
}

// OpenFile opens (creating it if needed) the file at path for appending.
func OpenFile(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sink: opening %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sink: opening %s: %w", path, err)
	}
	return &File{path: path, f: f, off: st.Size()}, nil
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
