package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/internal/bytesize"
)

// ErrClosed is returned by a Write or Reopen of a sink that was closed.
var ErrClosed = errors.New("sink: closed")

// Reopener is a Sink that can close and reopen its destination, as File
// does on SIGHUP after logrotate moved its file away. Reopen must be safe
// to call while the Dispatcher writes: it takes effect between two Writes.
type Reopener interface {
	Reopen() error
}

// FileOptions configure a File's rotation. The zero value never rotates.
type FileOptions struct {
	// MaxSize, if positive, rotates the file before a Write that would
	// take it past MaxSize bytes (a batch larger than MaxSize alone goes
	// to a file of its own).
	MaxSize int64
	// MaxAge, if positive, rotates the file before the first Write after
	// the file has been in use for MaxAge (counted from when the sink
	// started or opened it).
	MaxAge time.Duration
	// Keep, if positive, is how many rotated files are kept: the oldest
	// beyond it are removed after each rotation. Zero keeps them all.
	Keep int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Render writes each event's line (without its newline); default
	// event.AppendJSON. ParseWith sets it for format=ocsf.
	Render Render
}

// rotatedLayout names a rotated file: PATH.<UTC time of the rotation>, so
// that the names sort in the order the files were written.
const rotatedLayout = "20060102T150405.000000000Z"

// File appends committed events to a file as JSON lines: one event object
// per line, exactly as the HTTP API returns it (event.AppendJSON) or as
// FileOptions.Render writes it (format=ocsf: its OCSF record), in seq
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
//
// Rotation (FileOptions) happens only at the start of a Write, before
// anything of the batch is written: the file is renamed to
// PATH.<rotatedLayout> and a new PATH is started. The previous Write ended
// with fsync, so every rotated file ends with a complete line and a batch
// never straddles two files. Reopen (SIGHUP) likewise waits for the Write
// in progress.
type File struct {
	path string
	opt  FileOptions

	mu      sync.Mutex
	f       *os.File // nil after a failed rotation or reopen: opened again by the next Write
	closed  bool
	off     int64     // size after the last complete Write
	started time.Time // when the sink began writing the current file
	buf     []byte
}

// OpenFile opens (creating it if needed) the file at path for appending,
// without rotation. A last line without its newline — a Write cut short by
// a crash, whose events were therefore not delivered — is cut off.
func OpenFile(path string) (*File, error) { return OpenFileWith(path, FileOptions{}) }

// OpenFileWith is OpenFile with rotation options.
func OpenFileWith(path string, opt FileOptions) (*File, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Render == nil {
		opt.Render = event.AppendJSON
	}
	s := &File{path: path, opt: opt}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// open opens s.path; s.mu is held or s is new.
func (s *File) open() error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sink: opening %s: %w", s.path, err)
	}
	off, err := completeLines(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("sink: opening %s: %w", s.path, err)
	}
	s.f, s.off, s.started = f, off, s.opt.Now()
	return nil
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

// Name returns "file:" followed by the path. Rotation options are not part
// of it: adding or changing them keeps the sink's cursor.
func (s *File) Name() string { return "file:" + s.path }

// Write appends one line per event and fsyncs, after rotating the file if
// it is due.
func (s *File) Write(_ context.Context, events []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%w: %s", ErrClosed, s.path)
	}
	b := s.buf[:0]
	for i := range events {
		b = s.opt.Render(b, &events[i])
		b = append(b, '\n')
	}
	s.buf = b
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	if s.due(int64(len(b))) {
		if err := s.rotate(); err != nil {
			return err
		}
	}
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

// due reports whether the file must be rotated before n more bytes are
// written to it. An empty file is never rotated.
func (s *File) due(n int64) bool {
	if s.off == 0 {
		return false
	}
	if s.opt.MaxSize > 0 && s.off+n > s.opt.MaxSize {
		return true
	}
	return s.opt.MaxAge > 0 && s.opt.Now().Sub(s.started) >= s.opt.MaxAge
}

// rotate renames the file to PATH.<time>, starts a new PATH and removes
// the rotated files beyond Keep. The current file ends with a complete,
// fsynced line (the last Write succeeded). If the new file cannot be
// opened, the next Write tries again; the rename is never repeated. If
// PATH is gone (moved away by logrotate before its SIGHUP), the new PATH
// is simply started.
func (s *File) rotate() error {
	now := s.opt.Now().UTC()
	name := s.path + "." + now.Format(rotatedLayout)
	for {
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			break
		}
		now = now.Add(time.Nanosecond) // never replace a rotated file
		name = s.path + "." + now.Format(rotatedLayout)
	}
	err := os.Rename(s.path, name)
	moved := errors.Is(err, os.ErrNotExist) // moved away by logrotate, SIGHUP not yet sent: start PATH anew
	if err != nil && !moved {
		return fmt.Errorf("sink: rotating %s: %w", s.path, err)
	}
	old := s.f
	s.f = nil
	_ = old.Close() // its lines were fsynced by the last Write
	if err := s.open(); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("sink: rotating %s: %w", s.path, err)
	}
	if moved {
		return nil
	}
	return s.prune()
}

// rotated returns the rotated files of s, oldest first.
func (s *File) rotated() ([]string, error) {
	dir, base := filepath.Split(s.path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		stamp, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if _, err := time.Parse(rotatedLayout, stamp); err != nil {
			continue // not ours: an operator's PATH.1, say
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	slices.Sort(out) // the layout sorts by time
	return out, nil
}

// prune removes the oldest rotated files beyond Keep.
func (s *File) prune() error {
	if s.opt.Keep <= 0 {
		return nil
	}
	files, err := s.rotated()
	if err != nil {
		return fmt.Errorf("sink: listing the rotated files of %s: %w", s.path, err)
	}
	var errs []error
	for _, f := range files[:max(len(files)-s.opt.Keep, 0)] {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sink: removing old rotated files of %s: %w", s.path, errors.Join(errs...))
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Reopen closes the file and opens PATH again, creating it if it is gone:
// after an external `mv PATH PATH.1` (logrotate without copytruncate), the
// lines written before the call stay in the moved file and the next Write
// goes to a new PATH. It waits for a Write in progress, so no batch is
// split. If PATH cannot be opened, the next Write tries again.
func (s *File) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%w: %s", ErrClosed, s.path)
	}
	if s.f != nil {
		err := s.f.Close()
		s.f = nil
		if err != nil {
			return fmt.Errorf("sink: closing %s: %w", s.path, err)
		}
	}
	return s.open()
}

// Close closes the file.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
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

// parseFileSpec reads the part of a file: spec after "file:":
// PATH[?max_size=SIZE&max_age=DURATION&keep=N]. Errors wrap
// auditerr.ErrInvalidConfig.
func parseFileSpec(rest string) (string, FileOptions, error) {
	var opt FileOptions
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return "", opt, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink file:%s: empty path", rest)
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return "", opt, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink file:%s: %v", rest, err)
	}
	for k, vs := range vals {
		if len(vs) != 1 {
			return "", opt, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink file:%s: %s given %d times", rest, k, len(vs))
		}
		v := vs[0]
		switch k {
		case "max_size":
			n, err := bytesize.Parse(v)
			if err != nil || n == 0 || n > 1<<62 {
				return "", opt, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink file:%s: max_size %q is not a positive size such as 64MiB, 1GiB or 1048576", rest, v)
			}
			opt.MaxSize = int64(n)
		case "max_age":
			d, err := parseAge(v)
			if err != nil || d <= 0 {
				return "", opt, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink file:%s: max_age %q is not a positive duration such as 24h, 7d or 90m", rest, v)
			}
			opt.MaxAge = d
		case "keep":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return "", opt, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink file:%s: keep %q is not a positive number of files", rest, v)
			}
			opt.Keep = n
		default:
			return "", opt, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink file:%s: unknown parameter %q (want max_size, max_age, keep, or a filter: %s)", rest, k, strings.Join(filterKeys[:], ", "))
		}
	}
	if opt.Keep > 0 && opt.MaxSize == 0 && opt.MaxAge == 0 {
		return "", opt, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink file:%s: keep needs max_size or max_age", rest)
	}
	return path, opt, nil
}

// parseAge reads a Go duration, or a whole number of days ("7d").
func parseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100000 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
