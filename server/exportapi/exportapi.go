package exportapi

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/api"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/export"
	"github.com/stigaudit/stigaudit/server/ocsf"
	"github.com/stigaudit/stigaudit/server/redact"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// Route is the export route; its cursors are bound to it.
const Route = "/v1/audit/export"

// Response headers and trailers of an export (see the package doc).
const (
	HeaderExportID       = "Stigaudit-Export-Id"
	HeaderCheckpointSize = "Stigaudit-Checkpoint-Size"
	HeaderNextCursor     = "Stigaudit-Next-Cursor"
	HeaderCheckpoint     = "Stigaudit-Checkpoint"
	HeaderRedacted       = "Stigaudit-Redacted"
	TrailerEvents        = "Stigaudit-Export-Events"
	TrailerComplete      = "Stigaudit-Export-Complete"
)

// Emitter is the emitter of the events this package records.
const Emitter = "urn:stigaudit:server"

// Signer provides the checkpoint an export ends with: *tlog.Checkpointer.
type Signer interface {
	// Sync returns a signed checkpoint covering every event committed
	// when it is called.
	Sync(ctx context.Context) (tlog.Signed, error)
}

// Config configures New.
type Config struct {
	// Log is the audit log: exports read it and are recorded in it.
	Log *stigaudit.Log
	// Keys authenticates requests.
	Keys *auth.Keys
	// Signer signs the checkpoint each export ends with.
	Signer Signer
	// Tree is the stored Merkle tree, for inclusion proofs (the store).
	Tree hostfns.TreeReader
	// Policy decides redaction; nil refuses redact=hmac and the hash
	// lookup.
	Policy *redact.Policy
	// Logger receives failures to record an export's end; default
	// slog.Default().
	Logger *slog.Logger
}

// Handlers serve the export and the hash lookup.
type Handlers struct {
	cfg Config
}

// New returns the handlers of GET /v1/audit/export and POST
// /v1/audit/hash. The export checks audit.read itself, so that a refused
// export is recorded too; mount it behind api.Authenticate only. The hash
// lookup is for admin keys.
func New(cfg Config) *Handlers {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Handlers{cfg: cfg}
}

// request is a parsed export request.
type request struct {
	format   string
	q        hostfns.Query
	from     int64
	redactor *redact.Redactor
}

// ownParams are the export's parameters beside the list filters.
const (
	paramFormat   = "format"
	paramAfterSeq = "after_seq"
)

// parse checks the export request of p.
func (h *Handlers) parse(vals url.Values, p auth.Principal) (request, error) {
	var r request
	if !p.Can(auth.PermAuditRead) {
		return r, auditerr.Errorf(auditerr.ErrForbidden, "exporting needs the audit.read permission")
	}
	filters := url.Values{}
	afterSeq := int64(-1)
	for name, vs := range vals {
		switch name {
		case paramFormat:
			if len(vs) != 1 || vs[0] != "csv" && vs[0] != "ndjson" && vs[0] != "ocsf" {
				return r, auditerr.Errorf(auditerr.ErrInvalidParameter, "format must be csv, ndjson or ocsf")
			}
			r.format = vs[0]
		case paramAfterSeq:
			n, err := strconv.ParseInt(vs[0], 10, 64)
			if len(vs) != 1 || err != nil || n < 0 {
				return r, auditerr.Errorf(auditerr.ErrInvalidParameter, "after_seq must be a seq (a non-negative integer)")
			}
			afterSeq = n
		case redact.Param:
			// Read by the policy below.
		case "limit":
			return r, auditerr.Errorf(auditerr.ErrInvalidParameter, "an export takes no limit: it streams every matching event up to its checkpoint; resume with after_seq or cursor")
		default:
			filters[name] = vs
		}
	}
	if r.format == "" {
		return r, auditerr.Errorf(auditerr.ErrInvalidParameter, "format is required: csv, ndjson or ocsf")
	}
	if afterSeq >= 0 && filters.Has("cursor") {
		return r, auditerr.Errorf(auditerr.ErrInvalidParameter, "give cursor or after_seq, not both")
	}
	var err error
	if r.redactor, err = h.cfg.Policy.ForRequest(p, vals); err != nil {
		return r, err
	}
	if r.q, err = api.ParseFilters(h.cfg.Log, filters, p, Route, hostfns.Ascending); err != nil {
		return r, err
	}
	if afterSeq >= 0 {
		r.q.After = afterSeq
	}
	r.from = r.q.After + 1
	return r, nil
}

// Export is GET /v1/audit/export.
func (h *Handlers) Export(c echo.Context) error {
	ctx := c.Request().Context()
	p := api.PrincipalOf(c)
	r, err := h.parse(c.QueryParams(), p)
	if err != nil {
		h.refused(ctx, p, c.Request().URL.RawQuery, r.q.Tenant, err)
		return err
	}
	// The export ends when its key is revoked or expires (docs/operations.md#abuse).
	reqCtx := ctx
	ctx, stopWatch := h.cfg.Keys.WatchContext(ctx, p)
	defer stopWatch()
	cp, err := h.cfg.Signer.Sync(ctx)
	if err != nil {
		h.refused(ctx, p, c.Request().URL.RawQuery, r.q.Tenant, err)
		return err
	}
	start, err := h.cfg.Log.Emit(ctx, startDraft(p, &r, cp.Size))
	if err != nil {
		return err // critical: no export that is not recorded
	}

	resp := c.Response()
	hd := resp.Header()
	ext := r.format
	if r.format == "ocsf" {
		ext = "ocsf.ndjson"
	}
	if r.format == "csv" {
		hd.Set(echo.HeaderContentType, "text/csv; charset=utf-8; header=present")
	} else {
		hd.Set(echo.HeaderContentType, "application/x-ndjson")
	}
	hd.Set(echo.HeaderContentDisposition, `attachment; filename="`+filename(&r, cp.Size, ext)+`"`)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	hd.Set(HeaderExportID, start.ID)
	hd.Set(HeaderCheckpointSize, strconv.FormatUint(cp.Size, 10))
	hd.Set(HeaderCheckpoint, base64.StdEncoding.EncodeToString(cp.Note))
	if cp.Size > 0 {
		hd.Set(HeaderNextCursor, api.EncodeCursor(Route, &r.q, int64(cp.Size)-1))
	}
	if r.redactor != nil {
		hd.Set(HeaderRedacted, redact.ModeHMAC)
	}
	hd.Set("Trailer", TrailerEvents+", "+TrailerComplete)
	resp.WriteHeader(http.StatusOK)
	resp.Flush()
	// A write blocked on a client that does not read must not outlive the
	// key: cut it at once.
	rc := http.NewResponseController(resp)
	defer context.AfterFunc(ctx, func() {
		if keyEnded(ctx) {
			_ = rc.SetWriteDeadline(time.Now())
		}
	})()

	var f export.Format
	prover := NewProver(h.cfg.Tree, cp.Size)
	switch r.format {
	case "csv":
		f = export.NewCSV(resp)
		prover = NoProofs // CSV carries no proofs
	case "ocsf":
		enc, err := ocsf.NewEncoder(cp.Origin).WithCatalogue(h.cfg.Log.Catalogue())
		if err != nil {
			return err // serve refuses such a catalogue at start
		}
		f = export.NewOCSFWith(resp, enc)
	default:
		f = export.NewNDJSON(resp)
	}
	if r.redactor != nil {
		f = Redacting(f, r.redactor)
	}
	src := newPrefetch(h.cfg.Log, cp.Size)
	st, err := export.Write(ctx, src, f, export.Options{
		Filter: r.q, From: r.from, Checkpoint: cp.Note, Size: cp.Size, Prover: prover,
	})
	src.wait()
	if err != nil && keyEnded(ctx) {
		err = context.Cause(ctx)
		h.cfg.Logger.LogAttrs(reqCtx, slog.LevelInfo, "an export ended with its key",
			slog.String("key_id", p.KeyID), slog.String("export_id", start.ID), slog.String("code", string(auditerr.CodeOf(err))))
	}
	if err == nil {
		hd.Set(TrailerEvents, strconv.FormatInt(st.Events, 10))
		hd.Set(TrailerComplete, "true")
		resp.Flush()
	}
	h.ended(ctx, p, &r, start.ID, st.Events, err)
	if err != nil {
		// The headers are out: only a broken connection tells the client
		// the export is incomplete.
		panic(http.ErrAbortHandler)
	}
	return nil
}

// keyEnded reports whether ctx was ended by its key's revocation or
// expiry (auth.Keys.WatchContext).
func keyEnded(ctx context.Context) bool {
	cause := context.Cause(ctx)
	return errors.Is(cause, auth.ErrKeyRevoked) || errors.Is(cause, auth.ErrKeyExpired)
}

// NoProofs is an export.Prover for formats that carry no proofs (CSV): it
// answers an empty proof at once, sparing export.Write the store reads.
var NoProofs export.Prover = noProofs{}

type noProofs struct{}

func (noProofs) Inclusion(context.Context, uint64, uint64) (merkle.InclusionProof, error) {
	return merkle.InclusionProof{}, nil
}

// Redacting returns a Format that applies r to each event before f writes
// it.
func Redacting(f export.Format, r *redact.Redactor) export.Format {
	return &redacting{Format: f, r: r}
}

// redacting applies a Redactor to each event on its way to a Format.
type redacting struct {
	export.Format
	r  *redact.Redactor
	ev event.Event
}

func (x *redacting) Event(e *event.Event, proof *merkle.InclusionProof) error {
	x.ev = *e
	if err := x.r.Apply(&x.ev); err != nil {
		return err
	}
	return x.Format.Event(&x.ev, proof)
}

// filename names the tenant and the range of an export.
func filename(r *request, size uint64, ext string) string {
	tenant := r.q.Tenant
	if tenant == "" {
		tenant = "all"
	}
	from := "seq" + strconv.FormatInt(r.from, 10)
	if r.q.Since != "" {
		from = compactTime(r.q.Since)
	}
	to := "seq" + strconv.FormatInt(max(int64(size)-1, r.from-1), 10)
	if r.q.Until != "" {
		to = compactTime(r.q.Until)
	}
	name := "stigaudit_" + tenant + "_" + from + "-" + to
	if r.redactor != nil {
		name += "_redacted"
	}
	return name + "." + ext
}

// compactTime turns 2026-05-03T12:00:00.000000Z into 20260503T120000Z
// (keeping the fraction when it is not zero).
func compactTime(ts string) string {
	ts = strings.TrimSuffix(ts, ".000000Z")
	if !strings.HasSuffix(ts, "Z") {
		ts += "Z"
	}
	return strings.NewReplacer("-", "", ":", "").Replace(ts)
}

// detached returns a context for recording after the request: the client
// may be gone, the record must still be written.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// refused records an export refused before it started.
func (h *Handlers) refused(ctx context.Context, p auth.Principal, rawQuery, tenant string, cause error) {
	rctx, cancel := detached(ctx)
	defer cancel()
	if _, err := h.cfg.Log.Emit(rctx, refusedDraft(p, rawQuery, tenant, cause)); err != nil {
		h.cfg.Logger.LogAttrs(ctx, slog.LevelError, "could not record a refused export",
			slog.String("key_id", p.KeyID), slog.String("error", err.Error()))
	}
}

// ended records the end of an export.
func (h *Handlers) ended(ctx context.Context, p auth.Principal, r *request, startID string, n int64, cause error) {
	rctx, cancel := detached(ctx)
	defer cancel()
	if _, err := h.cfg.Log.Emit(rctx, endDraft(p, r, startID, n, cause)); err != nil {
		h.cfg.Logger.LogAttrs(ctx, slog.LevelError, "could not record the end of an export",
			slog.String("export_id", startID), slog.Int64("events", n), slog.String("error", err.Error()))
	}
}
