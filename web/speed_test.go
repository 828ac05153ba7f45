package web_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Budgets of issue 7, on localhost.
const (
	budgetUsable = time.Second            // first load to usable
	budgetCore   = 500 * time.Millisecond // module compile + instantiate
	budgetVerify = 2 * time.Second        // 1,000 inclusion proofs verified in the page
)

// checkBudget logs a measurement against its budget. Speed is reported,
// not asserted: a timed assertion fails on a loaded machine for reasons
// that have nothing to do with the page. STIGAUDIT_ENFORCE_BUDGETS=1 turns
// an over-budget measurement into a failure, for a quiet machine where the
// numbers mean something; STIGAUDIT_TIMING_SLACK=3 then multiplies every
// budget by 3.
func checkBudget(t *testing.T, what string, got, budget time.Duration) {
	t.Helper()
	slack := 1.0
	if s := os.Getenv("STIGAUDIT_TIMING_SLACK"); s != "" {
		if f, err := time.ParseDuration(s + "s"); err == nil && f > 0 {
			slack = f.Seconds()
		}
	}
	over := float64(got) > float64(budget)*slack
	mark := ""
	if over {
		mark = "  OVER BUDGET"
	}
	t.Logf("%-44s %8.1f ms (budget %v)%s", what, float64(got.Microseconds())/1000, budget, mark)
	if over && os.Getenv("STIGAUDIT_ENFORCE_BUDGETS") == "1" {
		t.Errorf("%s took %v, over the budget of %v", what, got, budget)
	}
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// TestSpeed measures, in headless Chromium with its cache disabled (a cold
// first visit every time): navigation to a usable page, the module's
// download, compilation and instantiation, login to the first page of
// events, a reload with the key in the tab to a rendered log, and verifying
// 1,000 inclusion proofs against the latest checkpoint in the worker.
func TestSpeed(t *testing.T) {
	n := newNode(t)
	n.seed(1000)
	n.sync()
	b := newBrowser(t, 1280, 800, false)
	errs := b.watchErrors()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		t.Fatal(err)
	}
	type marks struct {
		UI, CoreStart, Compiled, CoreReady, CoreLoad, Rendered, LoginSubmit float64
	}
	read := func() marks {
		return eval[marks](t, b, `(() => { const at = (n) => (performance.getEntriesByName(n)[0] || {startTime: -1}).startTime;
			return {UI: at('ui-ready'), CoreStart: at('core-start'), Compiled: at('core-compiled'), CoreReady: at('core-ready'),
			CoreLoad: (performance.getEntriesByName('core-load')[0] || {duration: -1}).duration,
			Rendered: at('log-rendered'), LoginSubmit: at('login-submit')} })()`)
	}

	b.do(t, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(n.URL))
	b.waitFor(t, "the page and the core", `document.documentElement.dataset.ui === 'ready' && document.documentElement.dataset.core === 'ready'`, wait)
	m := read()
	checkBudget(t, "cold: navigation → login prompt usable", ms(m.UI), budgetUsable)
	checkBudget(t, "cold: module fetch+compile+instantiate", ms(m.CoreLoad), budgetCore)
	t.Logf("  (fetch+compile %.1f ms, instantiate+_initialize %.1f ms; core ready %.1f ms after navigation)",
		m.Compiled-m.CoreStart, m.CoreReady-m.Compiled, m.CoreReady)

	b.do(t, chromedp.SendKeys(chromedp.ID("api-key"), n.admin+"\n"))
	b.waitFor(t, "the first page", `performance.getEntriesByName('log-rendered').length === 1`, wait)
	m = read()
	checkBudget(t, "login → first 100 events rendered", ms(m.Rendered-m.LoginSubmit), budgetUsable)

	b.do(t, chromedp.Reload())
	b.waitFor(t, "the reloaded log", `performance.getEntriesByName('log-rendered').length === 1 && document.documentElement.dataset.core === 'ready'`, wait)
	m = read()
	checkBudget(t, "cold reload (key in tab) → 100 events shown", ms(m.Rendered), budgetUsable)
	checkBudget(t, "cold reload: module fetch+compile+instantiate", ms(m.CoreLoad), budgetCore)

	// The newest 1,000 of 1,200 events: a selection, so the export carries
	// one inclusion proof per event.
	n.seed(200)
	b.applyFilters(t, map[string]string{"limit": "1000"})
	if got := len(b.rowSeqs(t)); got != 1000 {
		t.Fatalf("%d rows, want 1000", got)
	}
	// The export (audit.read keys) and the list with ?proof=1 (read keys)
	// are held to the budget; a proof request per event (a server with
	// neither) is measured and only held to a loose bound: it is 1,000 HTTP
	// requests over the browser's six connections.
	for _, way := range []struct {
		name, tamper, via string
		budget            time.Duration
	}{
		{"one export (audit.read)", "", "export", budgetVerify},
		{"the list with ?proof=1 (read)", "noexport", "list", budgetVerify},
		{"a proof request each (neither)", "noexport,nolistproof", "proofs", 5 * budgetVerify},
	} {
		n.tamper.Store(way.tamper)
		eval[bool](t, b, `(() => { const s = document.getElementById('verify-status'); s.textContent = '';
			for (const k of Object.keys(s.dataset)) delete s.dataset[k]; return true })()`)
		b.click(t, "#verify-all")
		b.waitFor(t, "the verification", `document.getElementById('verify-status').dataset.ms !== undefined || document.getElementById('verify-status').dataset.state === 'bad'`, 30*time.Second)
		type result struct {
			MS, VerifyMS                 string
			Verified, Failed, State, Via string
		}
		r := eval[result](t, b, `(() => { const d = document.getElementById('verify-status').dataset;
			return {MS: d.ms || '', VerifyMS: d.verifyMs || '', Verified: d.verified || '', Failed: d.failed || '', State: d.state || '', Via: d.via || ''} })()`)
		if r.State != "ok" || r.Verified != "1000" || r.Failed != "0" || r.Via != way.via {
			t.Fatalf("verify all via %s: %+v %q", way.via, r, b.text(t, "verify-status"))
		}
		total, _ := time.ParseDuration(r.MS + "ms")
		core, _ := time.ParseDuration(r.VerifyMS + "ms")
		checkBudget(t, "verify 1,000 inclusion proofs: "+way.name, total, way.budget)
		t.Logf("  (of which the core's checks: %.1f ms)", float64(core.Microseconds())/1000)
	}
	n.tamper.Store("")
	if rows := eval[int](t, b, `document.querySelectorAll('#events tbody tr[data-proof="ok"]').length`); rows != 1000 {
		t.Errorf("%d rows marked verified, want 1000", rows)
	}
	if e := errs.get(); len(e) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(e, "\n"))
	}
}
