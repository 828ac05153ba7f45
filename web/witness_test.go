package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/server/tlog"
)

// TestWitnessPolicyInThePage: an operator pins a witness policy in the
// Verifier key tab; the drawer then says which witnesses cosigned the
// checkpoint an event is proven in, and refuses the proof when the quorum
// is not met — checked by the WebAssembly core in the page.
func TestWitnessPolicyInThePage(t *testing.T) {
	var signers []note.Signer
	var vkeys []string
	for i := range 3 {
		skey, vkey, err := note.GenerateKey(rand.Reader, fmt.Sprintf("w%d.example", i+1))
		if err != nil {
			t.Fatal(err)
		}
		s, err := fnote.NewSignerForCosignatureV1(skey)
		if err != nil {
			t.Fatal(err)
		}
		cv, _ := fnote.VKeyToCosignatureV1(vkey)
		signers = append(signers, s)
		vkeys = append(vkeys, cv)
	}
	// The node's checkpoints are cosigned by w1 and w2, not w3.
	n := newNode(t, nodeConfig{witnesses: signers[:2]})
	n.seed(10)
	n.sync()
	b := newBrowser(t, 1280, 800, false)
	errs := b.watchErrors()
	b.do(t, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(n.URL))
	b.waitFor(t, "the page", `document.documentElement.dataset.ui === 'ready'`, wait)
	b.do(t, chromedp.SendKeys(chromedp.ID("api-key"), n.admin+"\n"))
	b.waitFor(t, "the first page", `document.querySelectorAll('#events tbody tr').length === 10`, wait)
	b.click(t, "#tab-trust")
	b.click(t, "#t-pin-advertised")

	decl := fmt.Sprintf("witness w1 %s https://w1.example\nwitness w2 %s https://w2.example\nwitness w3 %s https://w3.example\n", vkeys[0], vkeys[1], vkeys[2])
	pin := func(policy string) {
		t.Helper()
		b.click(t, "#tab-trust")
		pinPolicy(t, b, policy)
		b.click(t, "#tab-log")
	}

	pin(decl + "group two 2 w1 w2 w3\nquorum two\n")
	state, _, text := openFresh(t, b, 4)
	if state != "ok" || !strings.Contains(text, "cosigned by 2 witnesses (w1.example, w2.example; quorum 2 of w1, w2, w3)") {
		t.Fatalf("with 2 of 3 cosigning a 2-of-3 policy: %s %q", state, text)
	}
	b.screenshot(t, "preview-witnessed")
	b.closeDrawer(t)

	b.click(t, "#tab-trust")
	b.screenshot(t, "preview-witness-policy")
	b.click(t, "#tab-log")
	pin(decl + "group all3 all w1 w2 w3\nquorum all3\n")
	state, step, text := openFresh(t, b, 4)
	if state != "bad" || step != "witnesses" || !strings.Contains(text, "Witness quorum not met") || !strings.Contains(text, "only w1.example, w2.example") {
		t.Fatalf("with a quorum of all three: %s/%s %q", state, step, text)
	}
	b.closeDrawer(t)

	// A malformed policy is refused in the tab, and forgetting the policy
	// verifies against the log's key alone again.
	b.click(t, "#tab-trust")
	b.setField(t, "t-policy", "witness w1\n")
	submit(t, b, `#policy-form button[type=submit]`)
	b.waitFor(t, "the refusal", `!document.getElementById('t-policy-error').hidden`, wait)
	if msg := b.text(t, "t-policy-error"); !strings.Contains(msg, "Refused") {
		t.Fatalf("malformed policy: %q", msg)
	}
	submit(t, b, "#t-unpin-policy")
	b.waitFor(t, "the policy forgotten", `localStorage.getItem('stigaudit.witnessPolicy') === null`, wait)
	b.click(t, "#tab-log")
	if state, _, text := openFresh(t, b, 4); state != "ok" || strings.Contains(text, "cosigned") {
		t.Fatalf("without a policy: %s %q", state, text)
	}
	if e := errs.get(); len(e) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(e, "\n"))
	}
}

// TestReceiptInThePage: a receipt pasted in the Verifier key tab is
// checked by the WebAssembly core in the page — with the key alone, with a
// witness policy its checkpoint meets or does not meet, and refused once a
// byte of the event is changed.
func TestReceiptInThePage(t *testing.T) {
	var signers []note.Signer
	var vkeys []string
	for i := range 2 {
		skey, vkey, _ := note.GenerateKey(rand.Reader, fmt.Sprintf("w%d.example", i+1))
		s, err := fnote.NewSignerForCosignatureV1(skey)
		if err != nil {
			t.Fatal(err)
		}
		cv, _ := fnote.VKeyToCosignatureV1(vkey)
		signers = append(signers, s)
		vkeys = append(vkeys, cv)
	}
	n := newNode(t)
	evs := n.seed(12)
	n.sync()
	rs := &tlog.Receipts{Prover: tlog.NewProver(n.store, n.cp), Checkpointer: n.cp}
	plain, err := rs.Receipt(context.Background(), &evs[7])
	if err != nil {
		t.Fatal(err)
	}
	// The same receipt with w1's cosignature on its checkpoint.
	split := bytes.Index(plain, []byte("\n\n")) + 2
	body := plain[split:]
	text := body[:bytes.Index(body, []byte("\n\n"))+1]
	cosigned, _ := note.Sign(&note.Note{Text: string(text)}, signers[0])
	withW1 := append(bytes.Clone(plain), cosigned[bytes.Index(cosigned, []byte("\n\n"))+2:]...)

	b := newBrowser(t, 1280, 800, false)
	errs := b.watchErrors()
	b.do(t, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(n.URL))
	b.waitFor(t, "the page", `document.documentElement.dataset.ui === 'ready'`, wait)
	b.do(t, chromedp.SendKeys(chromedp.ID("api-key"), n.admin+"\n"))
	b.waitFor(t, "the log", `document.querySelectorAll('#events tbody tr').length === 12`, wait)
	b.click(t, "#tab-trust")
	b.click(t, "#t-pin-advertised")
	check := func(receipt []byte) (string, string) {
		t.Helper()
		eval[bool](t, b, `(() => { const r = document.getElementById('r-result'); r.hidden = true; delete r.dataset.state; return true })()`)
		b.setField(t, "r-text", string(receipt))
		submit(t, b, `#receipt-form button[type=submit]`)
		b.waitFor(t, "the receipt check", `['ok','bad'].includes(document.getElementById('r-result').dataset.state)`, wait)
		return eval[string](t, b, `document.getElementById('r-result').dataset.state`), b.text(t, "r-result")
	}
	if state, text := check(plain); state != "ok" || !strings.Contains(text, "Event "+evs[7].ID) || !strings.Contains(text, "entry 7 of the log") {
		t.Fatalf("a good receipt: %s %q", state, text)
	}
	changed := bytes.Replace(plain, []byte("\nindex 7\n"), []byte("\nindex 6\n"), 1)
	if state, text := check(changed); state != "bad" || !strings.Contains(text, "does not verify") {
		t.Fatalf("a receipt moved to another index: %s %q", state, text)
	}
	decl := fmt.Sprintf("witness w1 %s https://w1.example\nwitness w2 %s https://w2.example\n", vkeys[0], vkeys[1])
	pinPolicy(t, b, decl+"quorum w1\n")
	if state, text := check(withW1); state != "ok" || !strings.Contains(text, "cosigned by 1 witness (w1.example; quorum w1)") {
		t.Fatalf("a receipt cosigned by w1, policy w1: %s %q", state, text)
	}
	pinPolicy(t, b, decl+"group both all w1 w2\nquorum both\n")
	if state, text := check(withW1); state != "bad" || !strings.Contains(text, "Witness quorum not met") {
		t.Fatalf("a receipt cosigned by w1, policy w1 and w2: %s %q", state, text)
	}
	if e := errs.get(); len(e) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(e, "\n"))
	}
}

// pinPolicy pins a witness policy in the open Verifier key tab and waits
// until the page holds it.
func pinPolicy(t *testing.T, b *browser, policy string) {
	t.Helper()
	b.setField(t, "t-policy", policy)
	submit(t, b, `#policy-form button[type=submit]`)
	b.waitFor(t, "the pinned policy", fmt.Sprintf(`localStorage.getItem('stigaudit.witnessPolicy') === %s`, js(strings.TrimSpace(policy))), wait)
}

// submit presses a form's button from the page itself: the tab above it
// re-renders its key check while the test runs, which can move a button
// between the moment a pointer click is aimed and the moment it lands.
func submit(t *testing.T, b *browser, css string) {
	t.Helper()
	eval[bool](t, b, fmt.Sprintf(`(() => { document.querySelector(%s).click(); return true })()`, js(css)))
}

// openFresh opens an event's drawer and waits for this opening's proof
// check: the drawer keeps the previous check's answer until the new one
// starts, and this test opens one row several times.
func openFresh(t *testing.T, b *browser, seq int64) (state, step, text string) {
	t.Helper()
	eval[bool](t, b, `(() => { const d = document.getElementById('d-proof'); delete d.dataset.state; delete d.dataset.step; return true })()`)
	return b.openRow(t, seq)
}
