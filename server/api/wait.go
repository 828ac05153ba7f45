package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

// DefaultMaxWait bounds how long POST /v1/audit/events?wait= waits for a
// checkpoint to cover the events (Config.MaxWait).
const DefaultMaxWait = 5 * time.Second

// Receipts builds event receipts for POST /v1/audit/events?wait= (server/tlog
// implements it; declared here, where it is used).
type Receipts interface {
	// Wait waits until e is covered by a signed checkpoint (by a witnessed
	// one when witnessed), or ctx ends, and returns e's receipt.
	Wait(ctx context.Context, e *event.Event, witnessed bool) ([]byte, error)
	// Witnessing reports whether a witness policy is set (wait=witnessed
	// means something).
	Witnessing() bool
}

// waitParam reads ?wait=checkpoint|witnessed: "" when absent.
func (s *Handlers) waitParam(c echo.Context) (string, error) {
	vals := c.QueryParams()
	for name, vs := range vals {
		if name != "wait" {
			return "", auditerr.Errorf(auditerr.ErrInvalidParameter, "POST /v1/audit/events takes no parameter but wait, not %q", name)
		}
		if len(vs) != 1 {
			return "", auditerr.Errorf(auditerr.ErrInvalidParameter, "wait is given %d times", len(vs))
		}
	}
	switch w := vals.Get("wait"); {
	case w == "" && !vals.Has("wait"):
		return "", nil
	case w == "checkpoint" && s.receipts != nil:
		return w, nil
	case w == "witnessed" && s.receipts != nil && s.receipts.Witnessing():
		return w, nil
	case w == "witnessed" && s.receipts != nil:
		return "", auditerr.Errorf(auditerr.ErrInvalidParameter, "wait=witnessed needs a witness policy (serve --witness-policy); wait=checkpoint waits for the signed checkpoint")
	case s.receipts == nil:
		return "", auditerr.Errorf(auditerr.ErrInvalidParameter, "this server gives no receipts")
	default:
		return "", auditerr.Errorf(auditerr.ErrInvalidParameter, "wait must be checkpoint or witnessed, not %q", w)
	}
}

// withReceipts waits, up to MaxWait, for every stored event of res to be
// covered and adds each one's receipt as a "receipt" member. It returns
// 201 with all receipts, or 202 (the events are stored, some are not
// covered yet) with the receipts it got.
func (s *Handlers) withReceipts(c echo.Context, wait string, res []stigaudit.Result, batch bool) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.maxWait)
	defer cancel()
	receipts := make([][]byte, len(res))
	status := http.StatusCreated
	for i := range res {
		if res[i].Skipped {
			continue
		}
		r, err := s.receipts.Wait(ctx, &res[i].Event, wait == "witnessed")
		switch {
		case err == nil:
			receipts[i] = r
		case errors.Is(err, context.DeadlineExceeded) && c.Request().Context().Err() == nil:
			status = http.StatusAccepted // stored, not covered in time
		default:
			return err
		}
	}
	one := func(b []byte, i int) []byte {
		if res[i].Skipped {
			return append(b, skippedJSON...)
		}
		b = event.AppendJSON(b, &res[i].Event)
		if receipts[i] == nil {
			return b
		}
		b = append(b[:len(b)-1], `,"receipt":`...)
		b = appendString(b, string(receipts[i]))
		return append(b, '}')
	}
	if !batch {
		return c.JSONBlob(status, one(nil, 0))
	}
	b := []byte(`{"events":[`)
	for i := range res {
		if i > 0 {
			b = append(b, ',')
		}
		b = one(b, i)
	}
	return c.JSONBlob(status, append(b, "]}"...))
}
