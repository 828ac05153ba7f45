package tlog

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/api"
	"github.com/stigaudit/stigaudit/server/auth"
)

// Routes are the handlers of the tamper-evidence routes of docs/api.md#routes.
type Routes struct {
	// Store looks an event up by seq, to check that a key may read it.
	Store hostfns.Store
	// Checkpointer provides the latest checkpoint and readiness.
	Checkpointer *Checkpointer
	// Prover builds the proofs.
	Prover *Prover
	// Witnessed, if set, returns the newest checkpoint whose cosignatures
	// meet the witness policy, with them appended (server/witness): GET
	// /v1/audit/checkpoint then serves it, and ?witnessed=0 the newest
	// signed one.
	Witnessed func() (note []byte, ok bool)
	// History, if set, serves GET /v1/audit/verifier-keys: the log's
	// verifier keys with the tree sizes each signs (docs/tamper-evidence.md#key-rotation).
	History func() (History, error)
}

// Checkpoint is GET /v1/audit/checkpoint[?witnessed=0|1]: the latest
// checkpoint, as text — with a witness policy, the newest that meets its
// quorum, cosignatures included, unless witnessed=0 asks for the newest
// signed one.
func (r *Routes) Checkpoint(c echo.Context) error {
	vals := c.QueryParams()
	if err := onlyParams(vals, "witnessed"); err != nil {
		return err
	}
	witnessed := r.Witnessed != nil
	switch vals.Get("witnessed") {
	case "", "1":
	case "0":
		witnessed = false
	default:
		return auditerr.Errorf(auditerr.ErrInvalidParameter, "witnessed must be 0 or 1")
	}
	if witnessed {
		n, ok := r.Witnessed()
		if !ok {
			return auditerr.Errorf(auditerr.ErrNotFound, "no checkpoint has met the witness quorum yet; ?witnessed=0 serves the newest signed one")
		}
		return c.Blob(http.StatusOK, "text/plain; charset=utf-8", n)
	}
	s, ok := r.Checkpointer.Latest()
	if !ok {
		return auditerr.Errorf(auditerr.ErrNotFound, "no checkpoint has been signed yet")
	}
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", s.Note)
}

// VerifierKeys is GET /v1/audit/verifier-keys: the key history, as
// `stigaudit verify --key-history` reads it.
func (r *Routes) VerifierKeys(c echo.Context) error {
	if err := onlyParams(c.QueryParams()); err != nil {
		return err
	}
	h, err := r.History()
	if err != nil {
		return err
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, b)
}

// Inclusion is GET /v1/audit/proof/inclusion?seq=&size=.
func (r *Routes) Inclusion(c echo.Context) error {
	vals := c.QueryParams()
	if err := onlyParams(vals, "seq", "size"); err != nil {
		return err
	}
	seq, err := uintParam(vals, "seq", true)
	if err != nil {
		return err
	}
	size, err := uintParam(vals, "size", false)
	if err != nil {
		return err
	}
	if vals.Has("size") && size == 0 {
		return auditerr.Errorf(auditerr.ErrInvalidParameter, "size must be at least 1")
	}
	ctx := c.Request().Context()
	proof, err := r.Prover.Inclusion(ctx, seq, size)
	if err != nil {
		return err
	}
	if err := r.mayRead(c, seq); err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, proof.AppendJSON(make([]byte, 0, 128+72*len(proof.Hashes))))
}

// mayRead checks that the caller may read the event at seq, as the read
// routes decide: admin any, audit.read its tenant, read its own entity_uri.
// An event it may not read is answered like one that does not exist.
func (r *Routes) mayRead(c echo.Context, seq uint64) error {
	p := api.PrincipalOf(c)
	if p.IsAdmin() {
		return nil
	}
	page, err := r.Store.Query(c.Request().Context(), hostfns.Query{Order: hostfns.Ascending, After: int64(seq) - 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(page.Events) == 1 {
		e := &page.Events[0]
		if e.Seq == int64(seq) && e.Tenant == p.Tenant && (p.Can(auth.PermAuditRead) || e.EntityURI == p.EntityURI) {
			return nil
		}
	}
	return auditerr.Errorf(auditerr.ErrNotFound, "no event at seq %d that this key may read", seq)
}

// Consistency is GET /v1/audit/proof/consistency?from=&to=.
func (r *Routes) Consistency(c echo.Context) error {
	vals := c.QueryParams()
	if err := onlyParams(vals, "from", "to"); err != nil {
		return err
	}
	from, err := uintParam(vals, "from", true)
	if err != nil {
		return err
	}
	to, err := uintParam(vals, "to", false)
	if err != nil {
		return err
	}
	if !vals.Has("to") {
		if s, ok := r.Checkpointer.Latest(); ok {
			to = s.Size
		}
	}
	proof, err := r.Prover.Consistency(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, proof.AppendJSON(make([]byte, 0, 64+72*len(proof.Hashes))))
}

// onlyParams refuses parameters other than names, repeated or empty ones.
func onlyParams(vals url.Values, names ...string) error {
	for name, vs := range vals {
		known := false
		for _, n := range names {
			known = known || n == name
		}
		switch {
		case !known:
			return auditerr.Errorf(auditerr.ErrInvalidParameter, "unknown parameter %q", name)
		case len(vs) > 1:
			return auditerr.Errorf(auditerr.ErrInvalidParameter, "parameter %q is repeated", name)
		case vs[0] == "":
			return auditerr.Errorf(auditerr.ErrInvalidParameter, "parameter %q is empty", name)
		}
	}
	return nil
}

// uintParam reads a decimal tree position or size (0 .. 2^63-1).
func uintParam(vals url.Values, name string, required bool) (uint64, error) {
	v := vals.Get(name)
	if v == "" {
		if required {
			return 0, auditerr.Errorf(auditerr.ErrInvalidParameter, "parameter %q is required", name)
		}
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil || v[0] == '+' || len(v) > 1 && v[0] == '0' {
		return 0, auditerr.Errorf(auditerr.ErrInvalidParameter, "%s must be a non-negative decimal integer, not %q", name, v)
	}
	return n, nil
}
