package web_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/tlog"
)

const wait = 15 * time.Second

// jsErrors collects the page's uncaught exceptions and console errors.
type jsErrors struct {
	mu   sync.Mutex
	list []string
}

func (b *browser) watchErrors() *jsErrors {
	je := &jsErrors{}
	exc := chromedp.Events(b.ctx, runtime.ExceptionThrown)
	cons := chromedp.Events(b.ctx, runtime.ConsoleAPICalled)
	go func() {
		for ev, err := range exc {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			je.add("exception: " + msg)
		}
	}()
	go func() {
		for ev, err := range cons {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				je.add("console.error: " + strings.Join(parts, " "))
			}
		}
	}()
	return je
}

func (je *jsErrors) add(s string) {
	je.mu.Lock()
	je.list = append(je.list, s)
	je.mu.Unlock()
}

func (je *jsErrors) get() []string {
	je.mu.Lock()
	defer je.mu.Unlock()
	return slices.Clone(je.list)
}

// setField sets a form field as a user would (value, then input and
// change events), which also works for text SendKeys cannot type.
func (b *browser) setField(t testing.TB, id, value string) {
	t.Helper()
	eval[bool](t, b, fmt.Sprintf(`(() => { const e = document.getElementById(%s); e.value = %s;
		e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, js(id), js(value)))
}

func (b *browser) click(t testing.TB, css string) {
	t.Helper()
	b.do(t, chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible))
}

func (b *browser) text(t testing.TB, id string) string {
	return eval[string](t, b, fmt.Sprintf(`document.getElementById(%s).innerText`, js(id)))
}

func (b *browser) rowSeqs(t testing.TB) []int64 {
	return eval[[]int64](t, b, `[...document.querySelectorAll('#events tbody tr')].map(r => Number(r.dataset.seq))`)
}

// applyFilters sets the named filter fields (others cleared) and waits for
// the reload to finish.
func (b *browser) applyFilters(t testing.TB, fields map[string]string) {
	t.Helper()
	eval[bool](t, b, `(() => { document.getElementById('filters').reset(); document.querySelector('#events tbody').replaceChildren(); return true })()`)
	for id, v := range fields {
		b.setField(t, "f-"+id, v)
	}
	b.click(t, `#filters button[type=submit]`)
	b.waitFor(t, "the list to load", `document.getElementById('count').textContent !== '' && !document.getElementById('more').disabled`, wait)
}

// openRow opens the event at seq in the drawer and waits for its proof check.
func (b *browser) openRow(t testing.TB, seq int64) (state, step, text string) {
	t.Helper()
	b.click(t, fmt.Sprintf(`#events tbody tr[data-seq="%d"]`, seq))
	b.waitFor(t, "the proof check", `['ok','bad'].includes(document.getElementById('d-proof').dataset.state)`, wait)
	return eval[string](t, b, `document.getElementById('d-proof').dataset.state`),
		eval[string](t, b, `document.getElementById('d-proof').dataset.step || ''`),
		b.text(t, "d-proof")
}

func (b *browser) closeDrawer(t testing.TB) {
	t.Helper()
	b.do(t, chromedp.KeyEvent(kb.Escape))
	b.waitFor(t, "the drawer to close", `document.getElementById('drawer').hidden`, wait)
}

// checkContrast fails for any visible text of the listed kinds whose WCAG
// contrast ratio against its background is below 4.5:1 (AA, normal text).
func (b *browser) checkContrast(t testing.TB) {
	t.Helper()
	ratios := eval[map[string]float64](t, b, `(() => {
		const lum = (c) => { const [r, g, bl] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map((v) => {
			v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * bl; };
		const bg = (el) => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor;
			if (c !== 'transparent' && !/, 0\)$/.test(c)) return c; } return 'rgb(255, 255, 255)'; };
		const kinds = ['body', 'h1 .sub', 'th', 'td', 'label', '.muted', '.who', '.outcome-success', '.outcome-failure', '.outcome-denied',
			'#core-status', 'button', 'button.primary', 'button:disabled', '.result[data-state=ok]', '.result[data-state=bad]', '.result[data-state=wait]',
			'.error', '.mark-ok', '.mark-bad', 'pre', 'code', '[role=tab]', '#verify-status', '#live-status'];
		const out = {};
		for (const k of kinds) for (const el of document.querySelectorAll(k)) {
			if (!el.getClientRects().length || !el.textContent.trim()) continue;
			const a = lum(getComputedStyle(el).color), c = lum(bg(el));
			const r = (Math.max(a, c) + 0.05) / (Math.min(a, c) + 0.05);
			out[k] = Math.min(out[k] ?? 99, r);
		}
		return out; })()`)
	for k, r := range ratios {
		if r < 4.5 {
			t.Errorf("contrast of %s is %.2f:1, below 4.5:1", k, r)
		}
	}
	t.Logf("lowest contrast ratios: %v", ratios)
}

func count(evs []event.Event, keep func(*event.Event) bool) int {
	n := 0
	for i := range evs {
		if keep(&evs[i]) {
			n++
		}
	}
	return n
}

// stored reads the event at seq back from the store.
func (n *node) stored(seq int64) event.Event {
	n.t.Helper()
	page, err := n.log.Query(context.Background(), hostfns.Query{Order: hostfns.Ascending, After: seq - 1, Limit: 1})
	if err != nil || len(page.Events) != 1 || page.Events[0].Seq != seq {
		n.t.Fatalf("reading seq %d back: %v", seq, err)
	}
	return page.Events[0]
}

// TestPreview drives the page as an operator would, in headless Chromium:
// a wrong key refused, logging in, filters, paging, a live event, proofs
// verified (and a tampered proof, a tampered event and a wrong verifier key
// caught), composing and recording events whose stored leaf hash equals the
// preview, keyboard use and a narrow window — and no request leaving
// 127.0.0.1.
func TestPreview(t *testing.T) {
	n := newNode(t)
	seeded := n.seed(40)
	n.sync()
	b := newBrowser(t, 1280, 800, true)
	errs := b.watchErrors()
	b.do(t, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(n.URL))
	b.waitFor(t, "the page", `document.documentElement.dataset.ui === 'ready'`, wait)

	t.Run("wrong key refused", func(t *testing.T) {
		b.do(t, chromedp.SendKeys(chromedp.ID("api-key"), "sa_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"))
		b.waitFor(t, "the refusal", `!document.getElementById('login-error').hidden`, wait)
		if msg := b.text(t, "login-error"); !strings.Contains(msg, "refused") {
			t.Errorf("login error = %q", msg)
		}
		if eval[bool](t, b, `sessionStorage.length > 0 || !document.getElementById('view-log').hidden`) {
			t.Error("a refused key was kept, or the log opened")
		}
		b.waitFor(t, "the core", `document.documentElement.dataset.core === 'ready'`, wait)
		b.screenshot(t, "preview-login")
	})

	t.Run("login", func(t *testing.T) {
		b.setField(t, "api-key", "")
		b.do(t, chromedp.SendKeys(chromedp.ID("api-key"), n.admin+"\n"))
		// 41: the refused key above was itself recorded (auth_failed).
		b.waitFor(t, "the first page", `document.querySelectorAll('#events tbody tr').length === 41`, wait)
		if got := eval[string](t, b, `sessionStorage.getItem('stigaudit.apiKey')`); got != n.admin {
			t.Errorf("sessionStorage holds %q", got)
		}
		if u := eval[string](t, b, `location.href`); strings.Contains(u, "sa_") {
			t.Errorf("the key is in the URL: %s", u)
		}
		seqs := b.rowSeqs(t)
		if seqs[0] != 40 || seqs[40] != 0 {
			t.Errorf("rows %v, want 40..0 (newest first)", seqs)
		}
	})

	t.Run("filters", func(t *testing.T) {
		b.applyFilters(t, map[string]string{"event_type": "fact_write, quota_breach", "outcome": "denied"})
		want := count(seeded, func(e *event.Event) bool {
			return (e.Type == "fact_write" || e.Type == "quota_breach") && e.Outcome == "denied"
		})
		got := eval[[]string](t, b, `[...document.querySelectorAll('#events tbody tr')].map(r => r.cells[2].textContent + '/' + r.cells[3].textContent)`)
		if len(got) != want || want == 0 {
			t.Fatalf("%d rows, want %d: %v", len(got), want, got)
		}
		for _, g := range got {
			if g != "fact_write/denied" && g != "quota_breach/denied" {
				t.Errorf("row %s does not match the filters", g)
			}
		}
		b.applyFilters(t, map[string]string{"entity_uri": "agent:reader", "fact_id": "fact-7"})
		want = count(seeded, func(e *event.Event) bool { return e.EntityURI == "agent:reader" && e.FactID == "fact-7" })
		if got := len(b.rowSeqs(t)); got != want || want == 0 {
			t.Errorf("entity_uri+fact_id: %d rows, want %d", got, want)
		}
		b.applyFilters(t, map[string]string{"attested": "true"})
		if got := len(b.rowSeqs(t)); got != 0 {
			t.Errorf("attested=true: %d rows, want 0", got)
		}
		// A bad parameter is the server's 400, shown, never ignored.
		b.applyFilters(t, map[string]string{"since": "yesterday"})
		if msg := b.text(t, "list-error"); !contains(msg, "since", "invalid_parameter") {
			t.Errorf("bad since: %q", msg)
		}
		b.applyFilters(t, nil)
	})

	t.Run("paging", func(t *testing.T) {
		b.applyFilters(t, map[string]string{"limit": "7"})
		if got := len(b.rowSeqs(t)); got != 7 || !eval[bool](t, b, `!document.getElementById('more').hidden`) {
			t.Fatalf("first page: %d rows", got)
		}
		for i := 0; i < 10 && eval[bool](t, b, `!document.getElementById('more').hidden`); i++ {
			before := len(b.rowSeqs(t))
			b.click(t, "#more")
			b.waitFor(t, "the next page", fmt.Sprintf(`document.querySelectorAll('#events tbody tr').length > %d && !document.getElementById('more').disabled`, before), wait)
		}
		seqs := b.rowSeqs(t)
		if len(seqs) != 41 {
			t.Fatalf("after paging: %d rows, want 41", len(seqs))
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] >= seqs[i-1] {
				t.Fatalf("rows not strictly newest first: %v", seqs)
			}
		}
		b.applyFilters(t, nil)
	})

	var live event.Event
	t.Run("live", func(t *testing.T) {
		b.click(t, "#live")
		b.waitFor(t, "the stream", `document.getElementById('live-status').dataset.state === 'live'`, wait)
		live = n.emit(event.Draft{Type: "admin_action", Tenant: "default", EntityURI: "agent:operator",
			Emitter: "urn:stigaudit:admin", Detail: []byte(`{"action":"live-test"}`)})[0]
		b.waitFor(t, "the live event", fmt.Sprintf(`document.querySelector('#events tbody tr').dataset.seq === '%d'`, live.Seq), wait)
		b.screenshot(t, "preview-log")
	})

	t.Run("drawer verifies in the browser", func(t *testing.T) {
		// Keyboard only: focus the newest row, Enter opens it.
		b.do(t, chromedp.Focus(chromedp.CSS(`#events tbody tr`)), chromedp.KeyEvent(kb.Enter))
		b.waitFor(t, "the drawer", `!document.getElementById('drawer').hidden`, wait)
		b.waitFor(t, "the proof check", `['ok','bad'].includes(document.getElementById('d-proof').dataset.state)`, wait)
		state, text := eval[string](t, b, `document.getElementById('d-proof').dataset.state`), b.text(t, "d-proof")
		if state != "ok" || !strings.Contains(text, "Verified at tree size") {
			t.Fatalf("proof: %s %q", state, text)
		}
		size := eval[string](t, b, `document.getElementById('d-proof').dataset.treeSize`)
		if s, _ := strconv.Atoi(size); int64(s) <= live.Seq {
			t.Errorf("verified at tree size %s, which does not cover seq %d", size, live.Seq)
		}
		if c := b.text(t, "d-canonical"); c != string(event.AppendCanonical(nil, &live)) {
			t.Errorf("drawer canonical JSON\n%s\nwant\n%s", c, event.AppendCanonical(nil, &live))
		}
		if !strings.Contains(b.text(t, "d-canon-check"), "equals the stored leaf_hash") {
			t.Errorf("canonical check: %q", b.text(t, "d-canon-check"))
		}
		if eval[string](t, b, `document.querySelector('#events tbody tr').dataset.proof`) != "ok" {
			t.Error("the row is not marked verified")
		}
		b.screenshot(t, "preview-drawer")
		b.checkContrast(t)
		b.closeDrawer(t)
		if !eval[bool](t, b, `document.activeElement === document.querySelector('#events tbody tr')`) {
			t.Error("closing the drawer did not return focus to the row")
		}
		b.do(t, chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.Enter))
		b.waitFor(t, "the second event", fmt.Sprintf(`document.getElementById('d-title').textContent.startsWith('seq %d ')`, live.Seq-1), wait)
		b.closeDrawer(t)
	})

	t.Run("verify loaded events in the worker", func(t *testing.T) {
		verify := func(tamper string) (state, via, failed, text string) {
			n.tamper.Store(tamper)
			defer n.tamper.Store("")
			eval[bool](t, b, `(() => { const s = document.getElementById('verify-status'); s.textContent = '';
				for (const k of Object.keys(s.dataset)) delete s.dataset[k]; return true })()`)
			b.click(t, "#verify-all")
			b.waitFor(t, "the verification", `document.getElementById('verify-status').dataset.state !== undefined`, wait)
			return eval[string](t, b, `document.getElementById('verify-status').dataset.state`),
				eval[string](t, b, `document.getElementById('verify-status').dataset.via || ''`),
				eval[string](t, b, `document.getElementById('verify-status').dataset.failed || ''`),
				b.text(t, "verify-status")
		}
		b.click(t, "#live") // off: the exports' own audit_export events would join the table
		for _, filtered := range []bool{false, true} {
			if filtered { // a selection: the export carries a proof per event
				b.applyFilters(t, map[string]string{"event_type": "admin_action,fact_write"})
			} else { // everything from seq 0: the page rebuilds the tree from the export's leaves
				b.applyFilters(t, nil)
			}
			rows := len(b.rowSeqs(t))
			if state, via, failed, text := verify(""); state != "ok" || via != "export" || failed != "0" {
				t.Fatalf("filtered %v, via the export: %s %s %s %q", filtered, state, via, failed, text)
			}
			if ok := eval[int](t, b, `document.querySelectorAll('#events tbody tr[data-proof="ok"]').length`); ok != rows {
				t.Errorf("%d of %d rows marked verified", ok, rows)
			}
			if state, _, failed, text := verify("exportproof"); state != "bad" || failed != strconv.Itoa(rows) {
				t.Fatalf("filtered %v, tampered export: %s, %s failed of %d: %q", filtered, state, failed, rows, text)
			}
			reason := eval[string](t, b, `document.querySelector('#events tbody tr').cells[7].title`)
			if want := map[bool]string{false: "leaves of the export give root", true: "does not lead to the checkpoint's root"}[filtered]; !strings.Contains(reason, want) {
				t.Errorf("a failed row says %q, want %q", reason, want)
			}
			// Without the export: the list with ?proof=1; without that too,
			// a proof request per event. Each, tampered, fails every row.
			for _, way := range []struct{ off, tamper, via string }{
				{"noexport", "listproof", "list"},
				{"noexport,nolistproof", "proof", "proofs"},
			} {
				if state, via, _, text := verify(way.off); state != "ok" || via != way.via {
					t.Fatalf("with %s: %s %s %q", way.off, state, via, text)
				}
				if state, _, failed, text := verify(way.off + "," + way.tamper); state != "bad" || failed != strconv.Itoa(rows) {
					t.Fatalf("with %s, tampered %s: %s, %s failed of %d: %q", way.off, way.tamper, state, failed, rows, text)
				}
			}
		}
		b.screenshot(t, "preview-verify-failed")
		if state, _, _, text := verify(""); state != "ok" {
			t.Fatalf("again untampered: %s %q", state, text)
		}
		b.applyFilters(t, nil)
	})

	t.Run("tampered proof fails", func(t *testing.T) {
		n.tamper.Store("proof")
		defer n.tamper.Store("")
		state, step, text := b.openRow(t, 12)
		if state != "bad" || step != "proof" || !strings.Contains(text, "does not lead to the checkpoint's root") {
			t.Fatalf("tampered proof: %s/%s %q", state, step, text)
		}
		if eval[string](t, b, `document.querySelector('#events tbody tr[data-seq="12"]').dataset.proof`) != "bad" {
			t.Error("the row is not marked failed")
		}
		b.screenshot(t, "preview-tampered")
		b.checkContrast(t)
		b.closeDrawer(t)
	})

	t.Run("tampered event fails", func(t *testing.T) {
		n.tamper.Store("event")
		b.applyFilters(t, nil)
		n.tamper.Store("")
		state, step, text := b.openRow(t, 13)
		if state != "bad" || step != "event" || !strings.Contains(text, "is not the one in the log") {
			t.Fatalf("tampered event: %s/%s %q", state, step, text)
		}
		b.closeDrawer(t)
		b.applyFilters(t, nil)
	})

	t.Run("wrong verifier key refused", func(t *testing.T) {
		b.click(t, "#tab-trust")
		b.setField(t, "t-key", "stigaudit/local+00000000+bm90IGEga2V5")
		b.click(t, `#trust-form button[type=submit]`)
		if msg := b.text(t, "t-error"); !strings.Contains(msg, "Refused") {
			t.Errorf("malformed key: %q", msg)
		}
		other, err := tlog.LoadOrCreateKey(t.TempDir(), "", rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b.setField(t, "t-key", other.VerifierKey)
		b.click(t, `#trust-form button[type=submit]`)
		b.waitFor(t, "the key check", `document.getElementById('t-check').dataset.state === 'bad'`, wait)
		if !eval[bool](t, b, `!document.getElementById('t-warning').hidden`) {
			t.Error("no warning that the pinned key differs from the server's")
		}
		b.screenshot(t, "preview-trust")
		b.checkContrast(t)
		b.click(t, "#tab-log")
		state, step, text := b.openRow(t, 5)
		if state != "bad" || step != "checkpoint" || !strings.Contains(text, "does not verify with the key") {
			t.Fatalf("wrong key: %s/%s %q", state, step, text)
		}
		b.closeDrawer(t)
		b.click(t, "#tab-trust")
		// The tab re-checks the wrong key: let that settle, so that the
		// click below lands on a page that no longer moves.
		b.waitFor(t, "the key check", `document.getElementById('t-check').dataset.state === 'bad'`, wait)
		b.click(t, "#t-pin-advertised")
		b.waitFor(t, "the pinned key", fmt.Sprintf(`localStorage.getItem('stigaudit.verifierKey') === %s`, js(n.verifier)), wait)
		b.waitFor(t, "the key check", `document.getElementById('t-check').dataset.state === 'ok'`, wait)
		if got := eval[string](t, b, `localStorage.getItem('stigaudit.verifierKey')`); got != n.verifier {
			t.Errorf("pinned %q, want %q", got, n.verifier)
		}
		b.click(t, "#tab-log")
		if state, _, text := b.openRow(t, 5); state != "ok" {
			t.Fatalf("with the right key pinned: %s %q", state, text)
		}
		b.closeDrawer(t)
	})

	t.Run("a rolled-back or rewritten log is caught", func(t *testing.T) {
		// This browser remembers the largest checkpoint it verified per key,
		// and checks every later one is consistent with it.
		seen := eval[string](t, b, `localStorage.getItem('stigaudit.checkpointsSeen')`)
		if !strings.Contains(seen, `"tree_size":`) {
			t.Fatalf("no checkpoint remembered: %q", seen)
		}
		remember := func(size int, root string) {
			eval[bool](t, b, fmt.Sprintf(`(() => { localStorage.setItem('stigaudit.checkpointsSeen', JSON.stringify({[%s]: {tree_size: %d, root: %s}})); return true })()`, js(n.verifier), size, js(root)))
		}
		remember(1_000_000, strings.Repeat("ab", 32))
		if state, step, text := b.openRow(t, 7); state != "bad" || step != "history" || !strings.Contains(text, "rolled back") {
			t.Errorf("rollback: %s/%s %q", state, step, text)
		}
		b.closeDrawer(t)
		remember(5, strings.Repeat("ab", 32))
		if state, step, text := b.openRow(t, 7); state != "bad" || step != "history" || !strings.Contains(text, "does not extend") {
			t.Errorf("rewritten: %s/%s %q", state, step, text)
		}
		b.closeDrawer(t)
		eval[bool](t, b, `(() => { localStorage.setItem('stigaudit.checkpointsSeen', `+js(seen)+`); return true })()`)
		if state, _, text := b.openRow(t, 7); state != "ok" {
			t.Errorf("with the true history: %s %q", state, text)
		}
		b.closeDrawer(t)
	})

	t.Run("a read key sees its own events, without live mode or writing", func(t *testing.T) {
		b.do(t, chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('stigaudit.apiKey', `+js(n.reader)+`)`), chromedp.Reload())
		b.waitFor(t, "the log", `document.documentElement.dataset.session === 'open' && document.getElementById('count').textContent !== ''`, wait)
		entities := eval[[]string](t, b, `[...document.querySelectorAll('#events tbody tr')].map(r => r.cells[4].textContent)`)
		want := count(seeded, func(e *event.Event) bool { return e.EntityURI == "agent:reader" })
		if len(entities) != want {
			t.Errorf("%d rows, want the %d events of agent:reader", len(entities), want)
		}
		for _, e := range entities {
			if e != "agent:reader" {
				t.Fatalf("a read key sees %s's events", e)
			}
		}
		b.click(t, "#verify-all")
		b.waitFor(t, "the verification", `document.getElementById('verify-status').dataset.state !== undefined`, wait)
		if d := eval[map[string]string](t, b, `({...document.getElementById('verify-status').dataset})`); d["state"] != "ok" || d["via"] != "list" || d["verified"] != strconv.Itoa(want) {
			t.Errorf("read key verification: %v %q", d, b.text(t, "verify-status"))
		}
		b.click(t, "#live")
		b.waitFor(t, "live mode refused", `document.getElementById('live-status').dataset.state === 'bad'`, wait)
		if msg := b.text(t, "live-status"); !strings.Contains(msg, "refused") || eval[bool](t, b, `document.getElementById('live').checked`) {
			t.Errorf("live mode with a read key: %q", msg)
		}
		b.click(t, "#tab-compose")
		b.waitFor(t, "the preview", `!document.getElementById('preview').dataset.pending && document.getElementById('p-leaf').textContent.length === 64`, wait)
		if !eval[bool](t, b, `document.getElementById('record').disabled`) || !strings.Contains(b.text(t, "record-status"), "audit.write") {
			t.Errorf("a read key may record: %q", b.text(t, "record-status"))
		}
		b.do(t, chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('stigaudit.apiKey', `+js(n.admin)+`)`), chromedp.Reload())
		b.waitFor(t, "the log", `document.documentElement.dataset.session === 'open' && document.documentElement.dataset.core === 'ready'`, wait)
	})

	t.Run("compose, preview, record", func(t *testing.T) {
		b.click(t, "#tab-compose")
		cases := []struct {
			name, typ, detail string
			fact              [3]string
			wantClass         string
			skipped           bool
		}{
			{name: "unicode and numbers", typ: "admin_action",
				detail: `{"action":"rotate","note":"héllo — 日本語 🎉 \u00e9 ﬁ","n":1e21,"f":0.1,"neg":-0,"big":12345678901234567000,"tiny":1E-7,"arr":[1.50,2e0,"\ud83d\ude00",{"b":1,"a":[]}],"esc":"tab\there \"q\" \\"}`},
			{name: "instruction fact", typ: "instruction_quarantined", detail: `{"reason":"untrusted peer","fact_entity":"caller wins"}`,
				fact: [3]string{"instruction:deploy", "runs", "instruction"}, wantClass: "instruction fact ✓"},
			{name: "not an instruction", typ: "instruction_promoted", detail: ``,
				fact: [3]string{"memo:1", "note", "content"}, wantClass: "not an instruction fact", skipped: true},
			{name: "interpret_as code is not an instruction", typ: "instruction_quarantined", detail: ``,
				fact: [3]string{"memo:2", "note", "code"}, wantClass: "not an instruction fact", skipped: true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				b.setField(t, "c-event_type", tc.typ)
				b.setField(t, "c-detail", tc.detail)
				b.setField(t, "c-source", "")
				b.setField(t, "c-fact-entity", tc.fact[0])
				b.setField(t, "c-fact-relation", tc.fact[1])
				b.setField(t, "c-fact-interpret_as", tc.fact[2])
				b.setField(t, "c-id", "")
				b.waitFor(t, "the preview", `!document.getElementById('preview').dataset.pending && !document.getElementById('record').disabled`, wait)
				if body := b.text(t, "p-body"); !contains(body, `"event_type":"`+tc.typ+`"`, tc.fact[0]) {
					t.Fatalf("the preview is not of this draft: %s", body)
				}
				if msg := b.text(t, "p-error"); msg != "" {
					t.Fatalf("preview error: %s", msg)
				}
				if tc.wantClass != "" && !strings.Contains(b.text(t, "p-class"), tc.wantClass) {
					t.Errorf("classification %q, want %q", b.text(t, "p-class"), tc.wantClass)
				}
				canonical, leaf := b.text(t, "p-canonical"), b.text(t, "p-leaf")
				if tc.name == "unicode and numbers" {
					eval[bool](t, b, `(() => { window.scrollTo(0, 0); return true })()`)
					b.screenshot(t, "preview-compose-before")
				}
				b.click(t, "#record")
				b.waitFor(t, "the record result", `!document.getElementById('p-result').hidden && ['ok','bad','wait'].includes(document.getElementById('p-result').dataset.state)`, wait)
				state, text := eval[string](t, b, `document.getElementById('p-result').dataset.state`), b.text(t, "p-result")
				if state != "ok" {
					t.Fatalf("record: %s %q", state, text)
				}
				if tc.skipped {
					if !strings.Contains(text, "Nothing recorded") {
						t.Errorf("skipped: %q", text)
					}
					return
				}
				storedLeaf := eval[string](t, b, `document.getElementById('p-result').dataset.storedLeaf`)
				previewLeaf := eval[string](t, b, `document.getElementById('p-result').dataset.previewLeaf`)
				seq, _ := strconv.ParseInt(eval[string](t, b, `document.getElementById('p-result').dataset.seq`), 10, 64)
				if storedLeaf != previewLeaf || storedLeaf == "" {
					t.Fatalf("stored leaf %s, preview leaf %s", storedLeaf, previewLeaf)
				}
				// What the server stored is byte for byte the preview shown
				// before sending, but for ts, which the server stamps.
				ev := n.stored(seq)
				if hex.EncodeToString(ev.LeafHash[:]) != storedLeaf {
					t.Errorf("the page reports leaf %s, the store holds %x", storedLeaf, ev.LeafHash)
				}
				want := string(event.AppendCanonical(nil, &ev))
				previewTS := canonical[strings.Index(canonical, `"ts":"`)+6:]
				previewTS = previewTS[:strings.IndexByte(previewTS, '"')]
				if got := strings.Replace(canonical, previewTS, ev.TS, 1); got != want {
					t.Errorf("preview canonical (with the server's ts)\n%s\nstored\n%s", got, want)
				}
				if leaf == storedLeaf && previewTS != ev.TS {
					t.Error("the preview's leaf equals the stored one although ts differ: the preview is not hashing ts")
				}
				if tc.name == "unicode and numbers" {
					defer func() { // then read it back in the log: the drawer re-hashes what the list shows
						b.click(t, "#tab-log")
						b.applyFilters(t, nil)
						if state, _, text := b.openRow(t, seq); state != "ok" {
							t.Errorf("the recorded event in the drawer: %s %q", state, text)
						}
						if c := b.text(t, "d-canonical"); c != want {
							t.Errorf("drawer canonical\n%s\nstored\n%s", c, want)
						}
						b.closeDrawer(t)
						b.click(t, "#tab-compose")
					}()
					for _, s := range []string{`"n":1e+21`, `"f":0.1`, `"neg":0`, `"big":12345678901234567000`, `"tiny":1e-7`, `[1.5,2,"😀"`, `"héllo — 日本語 🎉 é ﬁ"`} {
						if !strings.Contains(want, s) {
							t.Errorf("stored canonical lacks %s: %s", s, want)
						}
					}
					b.screenshot(t, "preview-compose")
					b.checkContrast(t)
				}
				if tc.name == "instruction fact" && !contains(want, `"fact_entity":"caller wins"`, `"fact_relation":"runs"`, `"fact_interpret_as":"instruction"`) {
					t.Errorf("merged detail: %s", want)
				}
			})
		}
		// A number the log could not keep exactly is refused in the preview,
		// with the server's code, and cannot be recorded.
		t.Run("inexact number", func(t *testing.T) {
			b.setField(t, "c-event_type", "fact_write")
			b.setField(t, "c-detail", `{"n":9007199254740993}`)
			b.setField(t, "c-id", "")
			b.waitFor(t, "the preview's error", `!document.getElementById('preview').dataset.pending && document.getElementById('p-error').innerText !== ''`, wait)
			if msg := b.text(t, "p-error"); !strings.Contains(msg, "inexact_number") || !strings.Contains(msg, "string") {
				t.Errorf("preview error %q, want inexact_number and the advice to send a string", msg)
			}
			if !eval[bool](t, b, `document.getElementById('record').disabled`) {
				t.Error("an inexact number can be recorded")
			}
		})
	})

	t.Run("a writer key records as itself", func(t *testing.T) {
		b.do(t, chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('stigaudit.apiKey', `+js(n.writer)+`)`), chromedp.Reload())
		b.waitFor(t, "the log", `document.documentElement.dataset.session === 'open' && document.documentElement.dataset.core === 'ready'`, wait)
		b.click(t, "#tab-compose")
		b.setField(t, "c-event_type", "api_key_create")
		b.setField(t, "c-detail", `{"key_id":"k-1"}`)
		b.waitFor(t, "the preview", `!document.getElementById('preview').dataset.pending && document.getElementById('p-body').textContent.includes('api_key_create') && !document.getElementById('record').disabled`, wait)
		if body := b.text(t, "p-body"); !contains(body, `"emitter":"agent:writer"`, `"tenant_id":"default"`, `"oidc_sub":"sub-agent:writer"`) {
			t.Errorf("request body does not carry what the server fills in from the key: %s", body)
		}
		b.click(t, "#record")
		b.waitFor(t, "the record result", `!document.getElementById('p-result').hidden && ['ok','bad','wait'].includes(document.getElementById('p-result').dataset.state)`, wait)
		if state := eval[string](t, b, `document.getElementById('p-result').dataset.state`); state != "ok" {
			t.Fatalf("writer record: %s %q", state, b.text(t, "p-result"))
		}
	})

	t.Run("narrow window", func(t *testing.T) {
		b.do(t, chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('stigaudit.apiKey', `+js(n.admin)+`)`),
			chromedp.EmulateViewport(390, 844), chromedp.Reload())
		b.waitFor(t, "the log", `document.querySelectorAll('#events tbody tr').length > 0 && document.documentElement.dataset.core === 'ready'`, wait)
		if w := eval[[]int](t, b, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
			t.Errorf("the page scrolls sideways at 390 px: %v", w)
		}
		b.screenshot(t, "preview-narrow")
		if state, _, text := b.openRow(t, 3); state != "ok" {
			t.Fatalf("narrow drawer: %q", text)
		}
		if w := eval[[]int](t, b, `[document.getElementById('drawer').getBoundingClientRect().width, window.innerWidth]`); w[0] > w[1] {
			t.Errorf("the drawer is wider than the window: %v", w)
		}
		b.screenshot(t, "preview-narrow-drawer")
		b.do(t, chromedp.EmulateViewport(1280, 800))
	})

	if e := errs.get(); len(e) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(e, "\n"))
	}
	reqs := b.proxy.requests()
	if off := b.proxy.offHost(n.URL); len(off) > 0 {
		t.Errorf("requests left the test server (%d of %d): %v", len(off), len(reqs), off)
	}
	for _, want := range []string{"/v1/audit/stream", "/v1/audit/proof/inclusion", "/v1/audit/checkpoint", ".wasm", "/web/worker.mjs"} {
		if !slices.ContainsFunc(reqs, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("the request log has no %s: is the proxy seeing everything?", want)
		}
	}
	t.Logf("%d browser requests, all to %s", len(reqs), n.URL)
}

// TestLiveResumes cuts the page's stream off as a slow reader again and
// again (a hub queue of 2 events, bursts of 50): the page must resume after
// the last event it saw and end up with every event exactly once, in order.
func TestLiveResumes(t *testing.T) {
	n := newNode(t, nodeConfig{maxPending: 2})
	n.seed(5)
	b := newBrowser(t, 1280, 800, false)
	errs := b.watchErrors()
	b.do(t, chromedp.Navigate(n.URL))
	b.waitFor(t, "the page", `document.documentElement.dataset.ui === 'ready'`, wait)
	b.do(t, chromedp.SendKeys(chromedp.ID("api-key"), n.admin+"\n"))
	b.waitFor(t, "the log", `document.querySelectorAll('#events tbody tr').length === 5`, wait)
	b.click(t, "#live")
	b.waitFor(t, "the stream", `document.getElementById('live-status').dataset.state === 'live'`, wait)
	total := 5
	for burst := 0; burst < 6; burst++ {
		var ds []event.Draft
		for i := 0; i < 50; i++ {
			ds = append(ds, event.Draft{Type: "fact_read", Tenant: "default", EntityURI: fmt.Sprintf("agent:burst-%d", burst), Emitter: "urn:stigaudit:admin"})
		}
		for _, d := range ds { // one commit each: the hub sees 50 batches
			n.emit(d)
		}
		total += len(ds)
	}
	b.waitFor(t, "every event", fmt.Sprintf(`document.querySelectorAll('#events tbody tr').length >= %d`, total), 30*time.Second)
	seqs := b.rowSeqs(t)
	if len(seqs) != total {
		t.Fatalf("%d rows, want %d", len(seqs), total)
	}
	for i, s := range seqs {
		if s != int64(total-1-i) {
			t.Fatalf("row %d is seq %d, want %d: events lost, repeated or out of order", i, s, total-1-i)
		}
	}
	t.Logf("the hub cut the page off %d times; it resumed each time", n.hub.Cuts())
	if n.hub.Cuts() == 0 {
		t.Log("(no cut happened: the page kept up; the resume path was not exercised this run)")
	}
	if e := errs.get(); len(e) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(e, "\n"))
	}
}

// TestComposerOperatorTypes runs the page against a server started with an
// operator's --catalogue and smaller detail limits: the page's core is
// configured as the server is, so the composer previews and records an
// operator-added type, and refuses a draft without its required key, or
// over the server's detail limit, with the code the server answers for
// the very same request.
func TestComposerOperatorTypes(t *testing.T) {
	n := operatorNode(t)
	b := newBrowser(t, 1280, 800, false)
	errs := b.watchErrors()
	b.do(t, chromedp.Navigate(n.URL))
	b.waitFor(t, "the page", `document.documentElement.dataset.ui === 'ready'`, wait)
	b.do(t, chromedp.SendKeys(chromedp.ID("api-key"), n.writer+"\n"))
	b.waitFor(t, "the log", `document.documentElement.dataset.session === 'open' && document.documentElement.dataset.core === 'ready'`, wait)
	if s := b.text(t, "core-status"); strings.Contains(s, "built-in") {
		t.Fatalf("the core runs without the server's configuration: %q", s)
	}
	b.click(t, "#tab-compose")

	// preview sets the draft and waits for the core's verdict.
	preview := func(typ, detail string) (body, errText string) {
		t.Helper()
		b.setField(t, "c-event_type", typ)
		b.setField(t, "c-detail", detail)
		b.setField(t, "c-id", "")
		b.waitFor(t, "the preview", `!document.getElementById('preview').dataset.pending &&
			(!document.getElementById('record').disabled || document.getElementById('p-error').textContent !== '')`, wait)
		return b.text(t, "p-body"), eval[string](t, b, `document.getElementById('p-error').textContent`)
	}

	good := `{"amount":"12.50","currency":"EUR"}`
	body, msg := preview("billing.refund", good)
	if msg != "" || !contains(body, `"event_type":"billing.refund"`, good) {
		t.Fatalf("the operator type is not previewed: error %q, body %s", msg, body)
	}
	if req := b.text(t, "c-required"); !strings.Contains(req, "amount, currency") {
		t.Errorf("the composer's hint for billing.refund: %q", req)
	}
	b.click(t, "#record")
	b.waitFor(t, "the record result", `!document.getElementById('p-result').hidden && ['ok','bad','wait'].includes(document.getElementById('p-result').dataset.state)`, wait)
	if state := eval[string](t, b, `document.getElementById('p-result').dataset.state`); state != "ok" {
		t.Fatalf("record: %s %q", state, b.text(t, "p-result"))
	}
	seq, _ := strconv.ParseInt(eval[string](t, b, `document.getElementById('p-result').dataset.seq`), 10, 64)
	if ev := n.stored(seq); ev.Type != "billing.refund" || hex.EncodeToString(ev.LeafHash[:]) != eval[string](t, b, `document.getElementById('p-result').dataset.previewLeaf`) {
		t.Errorf("stored %s with leaf %x, not the preview", ev.Type, ev.LeafHash)
	}

	// The same request body, but for its detail (and without its id, which
	// is now taken), as the server answers it.
	idRE := regexp.MustCompile(`"id":"[^"]*",`)
	serverCode := func(detail string) string {
		t.Helper()
		_, answer := n.post("/v1/audit/events", n.writer, idRE.ReplaceAllString(strings.Replace(body, good, detail, 1), ""))
		return errorCode(answer)
	}
	for _, tc := range []struct{ name, detail, code, says string }{
		{"required key missing", `{"currency":"EUR"}`, "missing_detail_key", `"amount"`},
		{"value not permitted", `{"amount":"1","currency":"GBP"}`, "missing_detail_key", `"currency"`},
		{"detail over the server's limit", `{"amount":"1","currency":"EUR","note":"` + strings.Repeat("x", 300) + `"}`, "detail_too_large", "256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, msg := preview("billing.refund", tc.detail)
			if !contains(msg, "("+tc.code+")", tc.says) {
				t.Errorf("the composer says %q, want %s about %s", msg, tc.code, tc.says)
			}
			if !eval[bool](t, b, `document.getElementById('record').disabled`) {
				t.Error("a refused draft may be recorded")
			}
			if got := serverCode(tc.detail); got != tc.code {
				t.Errorf("the server answers %q, the composer %q", got, tc.code)
			}
		})
	}

	// The verification worker is configured alike and checks the event.
	b.click(t, "#tab-log")
	b.applyFilters(t, nil)
	b.click(t, "#verify-all")
	b.waitFor(t, "the verification", `document.getElementById('verify-status').dataset.state !== undefined`, wait)
	if d := eval[map[string]string](t, b, `({...document.getElementById('verify-status').dataset})`); d["state"] != "ok" || d["failed"] != "0" {
		t.Errorf("verification in the worker: %v %q", d, b.text(t, "verify-status"))
	}
	if e := errs.get(); len(e) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(e, "\n"))
	}
}
