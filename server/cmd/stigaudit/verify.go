package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/logverify"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/core/receipt"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
	"github.com/stigaudit/stigaudit/server/export"
	"github.com/stigaudit/stigaudit/server/tlog"
	"github.com/stigaudit/stigaudit/server/witness"
)

const verifyUsage = `usage: stigaudit verify [--data-dir D | --database-url postgres://... | --ndjson FILE] --verifier-key KEY... [--checkpoint FILE [--witness-policy FILE]] [--since-checkpoint OLD_FILE]... [--allow-tail]
       stigaudit verify --receipt FILE --verifier-key KEY [--witness-policy FILE]

Checks offline that the log is the one signed: every leaf hash, the Merkle
root against the checkpoint and its signature, and consistency with older
checkpoints. The log is an NDJSON export (--ndjson), or the database the
other commands use: PostgreSQL when --database-url is set (or
STIGAUDIT_DATABASE_URL, unless --ndjson or --data-dir is given), otherwise
the SQLite file in --data-dir, opened read only. Exits 0 and prints one line
when everything verifies; otherwise exits 1 and names the first bad seq and
why. The old spellings --db FILE|URL and --key still work, with a warning.`

// errVerifyFailed marks a log that does not verify (as opposed to a file
// that cannot be read).
var errVerifyFailed = errors.New("verification failed")

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	var dbFile, ndjsonFile, cpFile, policyFile, receiptFile, historyFile string
	var keyArgs multiFlag
	var since multiFlag
	var allowTail bool
	fs := newFlagSet("verify")
	c.register(fs)
	fs.StringVar(&dbFile, "db", "", "deprecated, use --data-dir or --database-url; a SQLite database file or postgres:// URL to verify")
	fs.StringVar(&ndjsonFile, "ndjson", "", "NDJSON export to verify")
	fs.StringVar(&receiptFile, "receipt", "", "an event's receipt (C2SP tlog-proof) to verify")
	fs.Var(&keyArgs, "verifier-key", "checkpoint verifier key <name>+<hash>+<base64>, or a file holding it; repeat it for a log whose key was rotated (env STIGAUDIT_VERIFIER_KEY)")
	deprecatedFlag(fs, "key", "verifier-key")
	fs.StringVar(&historyFile, "key-history", "", "the log's key history (GET /v1/audit/verifier-keys, or checkpoint.keys.json): each checkpoint must be signed by a key valid at its size")
	fs.StringVar(&cpFile, "checkpoint", "", "signed checkpoint to verify against (default: the latest in the database, or the export's last line)")
	fs.Var(&since, "since-checkpoint", "an older signed checkpoint the log must still extend (repeatable)")
	fs.StringVar(&policyFile, "witness-policy", "", "C2SP tlog-policy file: the --checkpoint must carry cosignatures meeting its quorum (as GET /v1/audit/checkpoint serves it)")
	fs.BoolVar(&allowTail, "allow-tail", false, "a database only: events after the checkpoint (not signed yet, on a live server) are checked against the stored tree instead of failing")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	given := map[string]bool{} // on the command line, before the environment
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if err := applyEnv(fs); err != nil {
		return err
	}
	warnDeprecated(fs, stderr)
	keyArg := ""
	if len(keyArgs) > 0 {
		keyArg = keyArgs[0]
	}
	if historyFile != "" && keyArg == "" {
		keyArg = "(history)"
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	sources := 0 // the logs named on the command line
	for _, name := range []string{"db", "ndjson", "data-dir", "database-url"} {
		if given[name] {
			sources++
		}
	}
	if receiptFile != "" {
		if sources > 0 || cpFile != "" || len(since) > 0 || keyArg == "" {
			return fmt.Errorf("%w: --receipt takes --verifier-key and optionally --witness-policy, nothing else", errUsage)
		}
		return verifyReceipt(receiptFile, keyArg, policyFile, stdout)
	}
	if sources > 1 {
		return fmt.Errorf("%w: give one of --data-dir, --database-url and --ndjson", errUsage)
	}
	if keyArg == "" {
		return fmt.Errorf("%w: --verifier-key is required", errUsage)
	}
	if ndjsonFile == "" && dbFile == "" {
		// The store the other commands use: PostgreSQL when a URL is set
		// (unless --data-dir names the SQLite log), else the data directory.
		switch {
		case c.databaseURL != "" && !given["data-dir"]:
			if !c.isPostgres() {
				return fmt.Errorf("%w: --database-url must start with postgres:// (or be empty for SQLite in --data-dir)", errUsage)
			}
			dbFile = c.databaseURL
		default:
			dbFile = filepath.Join(c.dataDir, DBFile)
			if _, err := os.Stat(dbFile); errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%w: no log at %s: give --data-dir, --database-url or --ndjson", errUsage, dbFile)
			}
		}
	}
	if allowTail && dbFile == "" {
		return fmt.Errorf("%w: --allow-tail applies to a database only (--data-dir, --database-url)", errUsage)
	}
	keys, err := verifierKeys(keyArgs, historyFile)
	if err != nil {
		return err
	}
	var cp []byte
	if cpFile != "" {
		if cp, err = readCheckpointFile(cpFile); err != nil {
			return err
		}
	}
	if policyFile != "" && cp == nil && ndjsonFile != "" {
		// An export carries its checkpoint, cosigned when its server had
		// witnesses: the quorum is checked on that one.
		if cp, err = exportTrailer(ndjsonFile); err != nil {
			return err
		}
		cpFile = ndjsonFile
	}
	if policyFile != "" {
		if err := checkQuorum(policyFile, cpFile, cp); err != nil {
			return err
		}
	}
	var older [][]byte
	for _, f := range since {
		c, err := readCheckpointFile(f)
		if err != nil {
			return err
		}
		if policyFile != "" {
			if err := checkQuorum(policyFile, f, c); err != nil {
				return err
			}
		}
		older = append(older, c)
	}
	start := time.Now()
	var sum summary
	if dbFile != "" {
		sum, err = verifyDBAt(ctx, dbFile, keys, cp, older, allowTail)
	} else {
		sum, err = verifyNDJSON(ndjsonFile, keys, cp, older)
	}
	if err != nil {
		return err
	}
	d := time.Since(start)
	key := keys[0].Verifier
	fmt.Fprintf(stdout, "OK: %s; key %s+%08x; %.2fs (%.0f events/s)\n", sum, key.Name(), key.KeyHash(), d.Seconds(), float64(sum.events)/max(d.Seconds(), 1e-9))
	return nil
}

// verifyReceipt checks one event's receipt offline: the event is entry
// seq of the checkpoint's tree, the checkpoint is signed by the log's key
// and, with a policy, cosigned by its quorum.
func verifyReceipt(file, keyArg, policyFile string, stdout io.Writer) error {
	key, err := readVerifierKey(keyArg)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading the receipt: %w", err)
	}
	v, err := receipt.Verify(b, "", key)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errVerifyFailed, file, err)
	}
	witnessed := ""
	if policyFile != "" {
		if err := checkQuorum(policyFile, file, v.Raw); err != nil {
			return err
		}
		witnessed = "; cosigned by the witness quorum"
	}
	fmt.Fprintf(stdout, "OK: event %s (%s, seq %d, leaf %s) is in checkpoint %s size %d root %s%s\n",
		v.Event.ID, v.Event.Type, v.Event.Seq, merkle.Hex(v.Event.LeafHash), v.Checkpoint.Origin, v.Checkpoint.Size, merkle.Hex(v.Checkpoint.Root), witnessed)
	return nil
}

// checkQuorum requires the checkpoint to carry cosignatures that meet the
// witness policy in policyFile (docs/tamper-evidence.md#witnesses): a checkpoint only the log
// signed proves nothing to someone who does not trust the log's host.
func checkQuorum(policyFile, cpFile string, cp []byte) error {
	text, err := os.ReadFile(policyFile)
	if err != nil {
		return fmt.Errorf("--witness-policy: %w", err)
	}
	policy, err := witness.ParsePolicy(text)
	if err != nil {
		return fmt.Errorf("--witness-policy %s: %w", policyFile, err)
	}
	if cpFile == "" {
		return fmt.Errorf("%w: --witness-policy needs --checkpoint: a cosigned checkpoint as GET /v1/audit/checkpoint serves it (the database and an export keep only the log's own signature)", errUsage)
	}
	if !policy.Satisfied(cp) {
		return fmt.Errorf("%w (%s): the checkpoint %s carries no cosignatures meeting the quorum of %s", errVerifyFailed, reasonNoQuorum, cpFile, policyFile)
	}
	return nil
}

// reasonNoQuorum names a checkpoint without the policy's cosignatures.
const reasonNoQuorum = "no_witness_quorum"

// summary describes a log that verified.
type summary struct {
	events   int64
	cp       checkpoint.Checkpoint
	older    []uint64
	filtered bool
	tail     int64
	// purged counts events whose content a retention purge removed: their
	// stored leaf hash is in the tree, but it cannot be recomputed.
	purged, firstPurged, lastPurged int64
}

func (s summary) String() string {
	var b strings.Builder
	if s.filtered {
		fmt.Fprintf(&b, "%d events of a filtered export are included in", s.events)
	} else {
		fmt.Fprintf(&b, "%d events match", s.events-s.tail)
	}
	fmt.Fprintf(&b, " checkpoint %s size %d root %s", s.cp.Origin, s.cp.Size, merkle.Hex(s.cp.Root))
	for _, o := range s.older {
		fmt.Fprintf(&b, "; consistent with the older checkpoint of size %d", o)
	}
	if s.tail > 0 {
		fmt.Fprintf(&b, "; %d later events (not signed yet) match the stored tree", s.tail)
	}
	if s.purged > 0 {
		fmt.Fprintf(&b, "; %d purged events (seq %d..%d) keep only their leaf hash, so their content cannot be checked",
			s.purged, s.firstPurged, s.lastPurged)
	}
	if s.filtered {
		b.WriteString(" (a filtered export cannot show it holds every matching event)")
	}
	return b.String()
}

// verifierKeys returns the keys verify opens checkpoints with: the key
// history of historyFile (each key valid for its sizes), or the --key
// keys, each valid for every size.
func verifierKeys(args []string, historyFile string) (checkpoint.Keys, error) {
	if historyFile != "" {
		b, err := os.ReadFile(historyFile)
		if err != nil {
			return nil, fmt.Errorf("--key-history: %w", err)
		}
		h, err := tlog.ParseHistory(b)
		if err != nil {
			return nil, fmt.Errorf("--key-history %s: %w", historyFile, err)
		}
		return h.KeySet()
	}
	var keys checkpoint.Keys
	for _, a := range args {
		v, err := readVerifierKey(a)
		if err != nil {
			return nil, err
		}
		keys = append(keys, checkpoint.KeyRange{Verifier: v})
	}
	return keys, nil
}

// readVerifierKey parses the key given on the command line, or read from
// the file it names.
func readVerifierKey(arg string) (note.Verifier, error) {
	if v, err := checkpoint.NewVerifier(arg); err == nil {
		return v, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return nil, fmt.Errorf("%w: --key is neither a verifier key <name>+<hash>+<base64> nor a readable file: %v", errUsage, err)
	}
	v, err := checkpoint.NewVerifier(string(b))
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", arg, err)
	}
	return v, nil
}

// exportTrailer returns the checkpoint an export ends with.
func exportTrailer(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr, err := lastTrailer(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if tr == nil {
		return nil, fmt.Errorf("%w: %s does not end with a checkpoint line; pass --checkpoint", errVerifyFailed, path)
	}
	return tr.Checkpoint, nil
}

// readCheckpointFile reads a signed checkpoint: the note text as served by
// GET /v1/audit/checkpoint, or an export's {"checkpoint":...} line.
func readCheckpointFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint: %w", err)
	}
	if t := bytes.TrimSpace(b); bytes.HasPrefix(t, []byte(`{"checkpoint":`)) {
		r := export.NewReader(bytes.NewReader(t))
		r.Next()
		if r.Err() != nil || r.Trailer() == nil {
			return nil, fmt.Errorf("checkpoint %s: %v", path, r.Err())
		}
		return r.Trailer().Checkpoint, nil
	}
	return b, nil
}

// leafHasher recomputes leaf hashes with one reused buffer.
func leafHasher() func(e *event.Event) [merkle.HashSize]byte {
	buf := make([]byte, 0, 4096)
	return func(e *event.Event) [merkle.HashSize]byte {
		buf = event.AppendCanonical(buf[:0], e)
		return event.LeafHash(buf)
	}
}

// failure turns a failed report into the command's error.
func failure(r logverify.Report) error {
	where := ""
	switch {
	case r.FirstBadSeq < 0:
	case r.BadUntil == r.FirstBadSeq+1:
		where = fmt.Sprintf(" at seq %d", r.FirstBadSeq)
	default:
		where = fmt.Sprintf(": first bad seq in [%d, %d)", r.FirstBadSeq, r.BadUntil)
	}
	return fmt.Errorf("%w%s (%s): %v", errVerifyFailed, where, r.Reason, r.Err)
}

// verifyNDJSON verifies an export against its checkpoint line (or cp).
func verifyNDJSON(path string, keys checkpoint.Keys, cp []byte, older [][]byte) (summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return summary{}, err
	}
	defer f.Close()
	trailer, err := lastTrailer(f)
	if err != nil {
		return summary{}, fmt.Errorf("%s: %w", path, err)
	}
	if cp == nil {
		if trailer == nil {
			return summary{}, fmt.Errorf("%w: %s does not end with a checkpoint line; pass --checkpoint", errVerifyFailed, path)
		}
		cp = trailer.Checkpoint
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return summary{}, err
	}
	r := export.NewReader(f)
	defer r.Close()
	if trailer != nil && trailer.Filtered {
		if len(older) > 0 {
			return summary{}, fmt.Errorf("%w: a filtered export holds no consistency proof, so --since-checkpoint cannot be checked against it; verify a complete export or the database", errUsage)
		}
		return verifyFiltered(r, keys, cp)
	}
	v, err := logverify.New(logverify.Config{Keys: keys, Checkpoint: cp, Older: older})
	if err != nil {
		return summary{}, err
	}
	for v.Err() == nil && r.Next() {
		e := r.Event()
		v.AddLeaf(e.Seq, e.LeafHash, r.ContentHash())
	}
	if v.Err() == nil && r.Err() != nil {
		rep := v.Finish()
		return summary{}, fmt.Errorf("%w at seq %d (unreadable): %v", errVerifyFailed, rep.Size, r.Err())
	}
	rep := v.Finish()
	if !rep.OK() {
		return summary{}, failure(rep)
	}
	return summaryOf(rep, older, keys, 0), nil
}

func summaryOf(rep logverify.Report, older [][]byte, keys checkpoint.Keys, tail int64) summary {
	s := summary{events: rep.Events, tail: tail}
	if rep.Checkpoint != nil {
		s.cp = *rep.Checkpoint
	}
	for _, o := range older {
		if c, err := keys.Open(o, ""); err == nil {
			s.older = append(s.older, c.Size)
		}
	}
	return s
}

// verifyFiltered checks each event of a filtered export on its own: its
// leaf hash and its inclusion proof in the checkpoint.
func verifyFiltered(r *export.Reader, keys checkpoint.Keys, cp []byte) (summary, error) {
	c, err := keys.Open(cp, "")
	if err != nil {
		return summary{}, fmt.Errorf("%w (%s): checkpoint: %v", errVerifyFailed, logverify.ReasonBadCheckpoint, err)
	}
	s := summary{cp: c, filtered: true}
	last := int64(-1)
	bad := func(seq int64, reason, format string, args ...any) (summary, error) {
		return summary{}, fmt.Errorf("%w at seq %d (%s): %s", errVerifyFailed, seq, reason, fmt.Sprintf(format, args...))
	}
	for r.Next() {
		e, p := r.Event(), r.Proof()
		switch {
		case e.Seq <= last:
			return bad(e.Seq, logverify.ReasonSeqRepeated, "seq %d follows seq %d: a filtered export is in increasing seq order", e.Seq, last)
		case uint64(e.Seq) >= c.Size:
			return bad(e.Seq, logverify.ReasonBeyondCheckpoint, "seq %d is beyond the checkpoint, which covers %d events", e.Seq, c.Size)
		case r.ContentHash() != e.LeafHash:
			return bad(e.Seq, logverify.ReasonLeafMismatch, "the leaf hash %x is not the hash of the event's content", e.LeafHash)
		case p == nil:
			return bad(e.Seq, "missing_proof", "an event of a filtered export must carry its inclusion proof")
		case p.Seq != uint64(e.Seq) || p.LeafHash != e.LeafHash || p.TreeSize != c.Size:
			return bad(e.Seq, "proof_mismatch", "the proof is for seq %d, leaf %x, size %d", p.Seq, p.LeafHash, p.TreeSize)
		}
		if err := p.Verify(c.Root); err != nil {
			return bad(e.Seq, "proof_invalid", "the inclusion proof does not lead to the checkpoint's root: %v", err)
		}
		last = e.Seq
		s.events++
	}
	if err := r.Err(); err != nil {
		return summary{}, fmt.Errorf("%w after seq %d (unreadable): %v", errVerifyFailed, last, err)
	}
	return s, nil
}

// lastTrailer reads the checkpoint line at the end of an export file.
func lastTrailer(f *os.File) (*export.Trailer, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	const tail = 64 << 10
	off := max(st.Size()-tail, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, err
	}
	buf = bytes.TrimRight(buf, "\r\n")
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[i+1:]
	}
	if !bytes.HasPrefix(buf, []byte(`{"checkpoint":`)) {
		return nil, nil
	}
	r := export.NewReader(bytes.NewReader(buf))
	r.Next()
	if r.Err() != nil {
		return nil, r.Err()
	}
	return r.Trailer(), nil
}

// verifyDBAt opens the log at db read-only and verifies it (verifyDB).
func verifyDBAt(ctx context.Context, db string, keys checkpoint.Keys, cp []byte, older [][]byte, allowTail bool) (summary, error) {
	l, err := openLogReadOnly(ctx, db)
	if err != nil {
		return summary{}, err
	}
	defer l.Close()
	return verifyDB(ctx, l, keys, cp, older, allowTail)
}

// openLogReadOnly opens the log at db (a SQLite file or a PostgreSQL URL)
// for verify: read-only, never created or migrated.
func openLogReadOnly(ctx context.Context, db string) (*sqlquery.ReadOnlyLog, error) {
	if pgstore.IsURL(db) {
		l, err := pgstore.OpenReadOnly(ctx, db)
		if errors.Is(err, auditerr.ErrInvalidConfig) {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		return l, err
	}
	l, err := sqlitestore.OpenReadOnly(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", db, err)
	}
	return l, nil
}

// verifyDB verifies a database: every event row in seq order, its stored
// tree nodes, and the checkpoint (default: the latest stored).
func verifyDB(ctx context.Context, l *sqlquery.ReadOnlyLog, keys checkpoint.Keys, cp []byte, older [][]byte, allowTail bool) (summary, error) {
	path := l.Name()
	if cp == nil {
		s, ok, err := l.LatestCheckpoint(ctx)
		if err != nil {
			return summary{}, fmt.Errorf("%s: %w", path, err)
		}
		if !ok {
			return summary{}, fmt.Errorf("%w: %s holds no checkpoint; pass --checkpoint", errVerifyFailed, path)
		}
		cp = s.Note
	}
	nodes, release, err := l.NodeReader(ctx)
	if err != nil {
		return summary{}, fmt.Errorf("%s: %w", path, err)
	}
	defer release()
	cfg := logverify.Config{Keys: keys, Nodes: nodes}
	var signedSize uint64
	if allowTail {
		// The checkpoint then binds the first Size events like an older
		// one; the events after it are checked against the stored tree.
		cfg.Older = append([][]byte{cp}, older...)
		c, err := keys.Open(cp, "")
		if err != nil {
			return summary{}, fmt.Errorf("%w (%s): checkpoint: %v", errVerifyFailed, logverify.ReasonBadCheckpoint, err)
		}
		signedSize = c.Size
	} else {
		cfg.Checkpoint, cfg.Older = cp, older
	}
	v, err := logverify.New(cfg)
	if err != nil {
		return summary{}, err
	}
	hash := leafHasher()
	var purged, firstPurged, lastPurged int64 = 0, -1, -1
	if v.Err() == nil {
		rows, err := l.Events(ctx)
		if err != nil {
			return summary{}, fmt.Errorf("%s: reading events: %w", path, err)
		}
		var e event.Event
		var leaf []byte
		var isPurged bool
		for rows.Next() {
			if err := rows.Scan(&e, &leaf, &isPurged); err != nil {
				rows.Close()
				return summary{}, fmt.Errorf("%w at seq %d (unreadable): %v", errVerifyFailed, v.Finish().Size, err)
			}
			var stored [merkle.HashSize]byte
			copy(stored[:], leaf) // a leaf hash of another length cannot match
			if len(leaf) != merkle.HashSize {
				stored[0] ^= 0xff
			}
			content := stored
			if isPurged {
				// A retention purge blanked the content and kept the leaf
				// hash: the leaf still binds the tree, the content is gone.
				purged++
				if firstPurged < 0 {
					firstPurged = e.Seq
				}
				lastPurged = e.Seq
			} else {
				content = hash(&e)
			}
			if v.AddLeaf(e.Seq, stored, content) != nil {
				break
			}
		}
		rerr := rows.Err()
		rows.Close()
		if rerr != nil && v.Err() == nil {
			return summary{}, fmt.Errorf("%s: reading events: %w", path, rerr)
		}
	}
	rep := v.Finish()
	if !rep.OK() {
		return summary{}, failure(rep)
	}
	sum := summaryOf(rep, older, keys, 0)
	sum.purged, sum.firstPurged, sum.lastPurged = purged, firstPurged, lastPurged
	if allowTail {
		c, _ := keys.Open(cp, "")
		sum.cp = c
		sum.tail = int64(rep.Size - signedSize)
	}
	return sum, nil
}
