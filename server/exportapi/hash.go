package exportapi

import (
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/server/api"
)

// HashRoute is the hash lookup route.
const HashRoute = "/v1/audit/hash"

// maxHashBody bounds a hash lookup request.
const maxHashBody = 64 << 10

// Hash is POST /v1/audit/hash: {"value": v} → {"hash": "hmac-sha256:..."}.
func (h *Handlers) Hash(c echo.Context) error {
	pol := h.cfg.Policy
	if pol == nil {
		return auditerr.Errorf(auditerr.ErrNotFound, "redaction is not configured on this server")
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxHashBody+1))
	if err != nil {
		return auditerr.Errorf(auditerr.ErrInvalidInput, "reading the request: %v", err)
	}
	if len(body) > maxHashBody {
		return auditerr.Errorf(auditerr.ErrTooLarge, "a hash lookup is at most %d bytes", maxHashBody)
	}
	value, err := hashInput(body)
	if err != nil {
		return err
	}
	sum := pol.Hasher().Hash(value)

	p := api.PrincipalOf(c)
	var d obj
	d.str("action", "redaction_hash_lookup")
	d.str("key_id", p.KeyID)
	d.str("hash", sum)
	if _, err := h.cfg.Log.Emit(c.Request().Context(), event.Draft{
		Type:      "admin_action",
		Tenant:    recordTenant(p, ""),
		EntityURI: actor(p),
		Emitter:   Emitter,
		OIDCSub:   p.OIDCSub,
		Source:    "POST " + HashRoute,
		Detail:    d.done(),
	}); err != nil {
		return err // critical: no lookup that is not recorded
	}
	out := append([]byte(`{"hash":`), jcs.AppendString(nil, sum)...)
	return c.JSONBlob(http.StatusOK, append(out, '}'))
}

// hashInput reads {"value": v} and returns the text that is hashed: the
// string for a string, the canonical JSON text otherwise.
func hashInput(body []byte) ([]byte, error) {
	canon, err := jcs.Canonicalize(nil, body, jcs.Limits{})
	if err != nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidJSON, "the body must be {\"value\": ...}: %v", err)
	}
	if canon[0] != '{' {
		return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "the body must be {\"value\": ...}")
	}
	var value []byte
	it := jcs.Members(canon)
	for it.Next() {
		m := it.Member()
		if !m.NameIs("value") {
			return nil, auditerr.Errorf(auditerr.ErrUnknownField, "unknown field %q: the body is {\"value\": ...}", m.Name())
		}
		value = m.Value
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	switch {
	case value == nil:
		return nil, auditerr.Errorf(auditerr.ErrMissingField, "value is required")
	case string(value) == "null":
		return nil, auditerr.Errorf(auditerr.ErrInvalidField, "value must not be null: null is never redacted")
	case string(value) == `""`:
		return nil, auditerr.Errorf(auditerr.ErrInvalidField, "value must not be empty: empty values are never redacted")
	case value[0] == '"':
		s, _ := jcs.Unquote(value)
		return []byte(s), nil
	}
	return value, nil
}
