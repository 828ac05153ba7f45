package exportapi

import (
	"context"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/export"
)

// prefetch is an export.Source for one export that reads the next page
// while the current one is being written. export.Write asks for the pages
// of one query in order, each after the last seq of the page before, so
// the next query is known as soon as a page arrives; on two cores the
// store's scan and the encoding then overlap. At most two pages are held.
type prefetch struct {
	src  export.Source
	size int64 // the export stops below this seq: no page is read past it

	pending chan pageResult // the read of the page after pendingAfter, or nil
	after   int64
}

type pageResult struct {
	page hostfns.Page
	err  error
}

func newPrefetch(src export.Source, size uint64) *prefetch {
	return &prefetch{src: src, size: int64(size)}
}

// Query returns the page q asks for, from the read started ahead when it
// is the one expected, and starts reading the one after it.
func (p *prefetch) Query(ctx context.Context, q hostfns.Query) (hostfns.Page, error) {
	var res pageResult
	if p.pending != nil && q.After == p.after {
		res = <-p.pending
	} else {
		p.wait()
		res.page, res.err = p.src.Query(ctx, q)
	}
	p.pending = nil
	if res.err == nil && res.page.HasMore && len(res.page.Events) > 0 {
		if last := res.page.Events[len(res.page.Events)-1].Seq; last+1 < p.size {
			next := q
			next.After = last
			ch := make(chan pageResult, 1)
			go func() {
				pg, err := p.src.Query(ctx, next)
				ch <- pageResult{pg, err}
			}()
			p.pending, p.after = ch, last
		}
	}
	return res.page, res.err
}

// wait ends a read started ahead (the export may stop before using it).
func (p *prefetch) wait() {
	if p.pending != nil {
		<-p.pending
		p.pending = nil
	}
}
