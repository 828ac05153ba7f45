package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// TestLoadAndVerifyAll drives the page as BenchmarkPage measures it, and
// asserts only what it does: the page and the core load, the log renders
// after login and after a reload, and "verify all" proves 1,000 events by
// each of its three ways. Its timings are BenchmarkPage's to report.
func TestLoadAndVerifyAll(t *testing.T) {
	pageTimings(t, func(string, string, time.Duration) {})
}

// BenchmarkPage reports, in headless Chromium with its cache disabled (a
// cold first visit every time), the times the README's browser table
// lists, in ms per metric:
//
//	go test -run '^$' -bench Page -benchtime 1x ./web/
func BenchmarkPage(b *testing.B) {
	for b.Loop() {
		pageTimings(b, func(metric, what string, d time.Duration) {
			b.ReportMetric(float64(d.Microseconds())/1000, metric)
			b.Logf("%-44s %8.1f ms", what, float64(d.Microseconds())/1000)
		})
	}
}

// pageTimings measures, with the browser's cache disabled: navigation to a
// usable page, the module's download, compilation and instantiation, login
// to the first page of events, a reload with the key in the tab to a
// rendered log, and verifying 1,000 inclusion proofs against the latest
// checkpoint in the worker, each way. It hands every time to report.
func pageTimings(t testing.TB, report func(metric, what string, d time.Duration)) {
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
	report("ms-usable", "cold: navigation → login prompt usable", ms(m.UI))
	report("ms-core", "cold: module fetch+compile+instantiate", ms(m.CoreLoad))
	report("ms-compile", "  of which fetch+compile", ms(m.Compiled-m.CoreStart))

	b.do(t, chromedp.SendKeys(chromedp.ID("api-key"), n.admin+"\n"))
	b.waitFor(t, "the first page", `performance.getEntriesByName('log-rendered').length === 1`, wait)
	m = read()
	report("ms-first-page", "login → first 100 events rendered", ms(m.Rendered-m.LoginSubmit))

	b.do(t, chromedp.Reload())
	b.waitFor(t, "the reloaded log", `performance.getEntriesByName('log-rendered').length === 1 && document.documentElement.dataset.core === 'ready'`, wait)
	m = read()
	report("ms-reload", "cold reload (key in tab) → 100 events shown", ms(m.Rendered))
	report("ms-reload-core", "cold reload: module fetch+compile+instantiate", ms(m.CoreLoad))

	// The newest 1,000 of 1,200 events: a selection, so the export carries
	// one inclusion proof per event.
	n.seed(200)
	b.applyFilters(t, map[string]string{"limit": "1000"})
	if got := len(b.rowSeqs(t)); got != 1000 {
		t.Fatalf("%d rows, want 1000", got)
	}
	// Three ways: one export (audit.read keys), the list with ?proof=1
	// (read keys), and a proof request per event (a server with neither:
	// 1,000 HTTP requests over the browser's six connections).
	for _, way := range []struct {
		name, tamper, via string
	}{
		{"one export (audit.read)", "", "export"},
		{"the list with ?proof=1 (read)", "noexport", "list"},
		{"a proof request each (neither)", "noexport,nolistproof", "proofs"},
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
		report("ms-verify-"+way.via, "verify 1,000 inclusion proofs: "+way.name, total)
		report("ms-verify-"+way.via+"-core", "  of which the core's checks", core)
	}
	n.tamper.Store("")
	if rows := eval[int](t, b, `document.querySelectorAll('#events tbody tr[data-proof="ok"]').length`); rows != 1000 {
		t.Errorf("%d rows marked verified, want 1000", rows)
	}
	if e := errs.get(); len(e) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(e, "\n"))
	}
}
