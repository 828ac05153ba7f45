package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// listenProc is a `stigaudit serve` started with extra flags.
type listenProc struct {
	*serveProc
	addr       string // host:port of --listen
	metricsURL string
	admin      string
	dataDir    string
	errs       *lockedBuffer
}

// errText returns what the process wrote to standard error so far.
func (p *listenProc) errText() string {
	p.errs.mu.Lock()
	defer p.errs.mu.Unlock()
	return p.errs.b.String()
}

// startServeWith starts the binary with args after the usual ones; with
// fdLimit > 0 it runs under that open-file limit (soft and hard, as
// `ulimit -n` sets them).
func startServeWith(t *testing.T, bin, dir string, fdLimit int, args ...string) *listenProc {
	t.Helper()
	argv := append([]string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}, args...)
	cmd := exec.Command(bin, argv...)
	if fdLimit > 0 {
		cmd = exec.Command("sh", append([]string{"-c", "ulimit -n " + strconv.Itoa(fdLimit) + ` && exec "$0" "$@"`, bin}, argv...)...)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &listenProc{serveProc: &serveProc{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{})}}
	p.errs = &lockedBuffer{b: p.stderr}
	cmd.Stderr = p.errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "stigaudit metrics on "); ok {
			p.metricsURL = u
		}
		if u, ok := strings.CutPrefix(sc.Text(), "stigaudit listening on "); ok {
			p.url = u
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if p.url == "" {
		<-p.exited
		t.Fatalf("serve did not start: %s", p.errText())
	}
	_, p.addr, _ = strings.Cut(p.url, "://")
	p.dataDir = dir
	p.admin = readAdminKey(t, dir)
	return p
}

// lockedBuffer lets the test read stderr while the process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// idleConn opens a connection, makes one keep-alive request on it and
// returns it idle.
func idleConn(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	// A server that stopped accepting leaves the connection waiting in
	// its backlog: give up, keeping what was opened held.
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.SetDeadline(time.Time{})
	return c, nil
}

// openIdle opens n idle connections with a few workers and returns those
// that were served.
func openIdle(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	var mu sync.Mutex
	var conns []net.Conn
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if c, err := idleConn(addr); err == nil {
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// timedGet makes one request on a new connection and returns how long
// the answer took.
func timedGet(t *testing.T, url string) time.Duration {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("a new client was not served: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a new client: %d", resp.StatusCode)
	}
	return time.Since(start)
}

func openFDs(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents)
}

// TestListener runs the real binary: connection cap under an open-file
// limit, shutdown under slow clients, idle timeout, TLS and the metrics
// address.
func TestListener(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the server")
	}
	bin := buildBinary(t)
	t.Run("fd-limit", func(t *testing.T) { testFDLimit(t, bin) })
	t.Run("shutdown", func(t *testing.T) { testShutdownUnderSlowClients(t, bin) })
	t.Run("idle-timeout", func(t *testing.T) { testIdleTimeout(t, bin) })
	t.Run("tls", func(t *testing.T) { testTLS(t, bin) })
	t.Run("metrics-listen", func(t *testing.T) { testMetricsListenAndAnswers(t, bin) })
}

// testFDLimit: 1,100 idle connections (which need no key) against a
// server limited to 1,024 open files; a new client is still served within
// a second, because the longest-idle connections are shed.
func testFDLimit(t *testing.T, bin string) {
	p := startServeWith(t, bin, t.TempDir(), 1024)
	conns := openIdle(t, p.addr, 1100)
	fds := openFDs(p.cmd.Process.Pid)
	var worst time.Duration
	for i := 0; i < 3; i++ {
		worst = max(worst, timedGet(t, p.url+"/healthz"))
	}
	t.Logf("1,100 idle connections under a 1,024-file limit: %d answered, server holds %d fds; a new client served in at most %v",
		len(conns), fds, worst.Round(time.Microsecond))
	if worst > time.Second {
		t.Errorf("a new client waited %v, want at most 1s", worst)
	}
	if fds >= 1024 {
		t.Errorf("the server holds %d fds, at its limit", fds)
	}
	if s := p.errText(); strings.Contains(s, "too many open files") {
		t.Errorf("the server ran out of files:\n%s", s)
	}
	m := get(t, p.url+"/metrics", "")
	if !strings.Contains(m, `stigaudit_http_connections_shed_total{reason="idle"}`) {
		t.Errorf("no shed connections counted:\n%s", m)
	}
}

// testShutdownUnderSlowClients: SIGTERM with 200 uploads trickling in and
// 300 idle connections exits 0 within 2 s, and the final checkpoint
// covers every event (the strict verify passes).
func testShutdownUnderSlowClients(t *testing.T, bin string) {
	dir := t.TempDir()
	p := startServeWith(t, bin, dir, 0)
	for i := 0; i < 10; i++ {
		post(t, p.url, p.admin, fmt.Sprintf(`{"event_type":"fact_read","entity_uri":"urn:u:%d"}`, i), 201)
	}
	openIdle(t, p.addr, 300)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	for i := 0; i < 200; i++ {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /v1/audit/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100000\r\n\r\n{", p.admin)
		wg.Go(func() {
			defer c.Close()
			for {
				select {
				case <-stop:
					return
				case <-time.After(500 * time.Millisecond):
				}
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		})
	}
	time.Sleep(time.Second)
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30s of SIGTERM")
	}
	took := time.Since(start)
	t.Logf("SIGTERM with 200 slow uploads and 300 idle connections: exited %d after %v", p.cmd.ProcessState.ExitCode(), took.Round(time.Millisecond))
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit %d, want 0\n%s", code, p.errText())
	}
	if took > 2*time.Second {
		t.Errorf("shutdown took %v, want at most 2s", took)
	}
	if strings.Contains(p.errText(), "final checkpoint not signed") {
		t.Errorf("final checkpoint not signed:\n%s", p.errText())
	}
	vkey := verifierKey(t, dir)
	out, err := exec.Command(bin, "verify", "--db", filepath.Join(dir, DBFile), "--key", vkey).CombinedOutput()
	if err != nil {
		t.Fatalf("strict verify after the shutdown: %v\n%s", err, out)
	}
}

// testIdleTimeout: a keep-alive connection idle for --idle-timeout is
// closed by the server.
func testIdleTimeout(t *testing.T, bin string) {
	p := startServeWith(t, bin, t.TempDir(), 0, "--idle-timeout", "1s")
	c, err := idleConn(p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err = c.Read(make([]byte, 1))
	took := time.Since(start)
	if err != io.EOF {
		t.Fatalf("idle connection: read %v after %v, want EOF (closed by the server)", err, took)
	}
	if took < 500*time.Millisecond {
		t.Errorf("closed after %v, before the 1s idle timeout", took)
	}
	t.Logf("--idle-timeout 1s: closed after %v", took.Round(time.Millisecond))
}

// testMetricsListenAndAnswers: --metrics-listen moves /metrics off the
// API address; malformed ids and queries are 400; texts carry no package
// names.
func testMetricsListenAndAnswers(t *testing.T, bin string) {
	p := startServeWith(t, bin, t.TempDir(), 0, "--metrics-listen", "127.0.0.1:0", "--write-timeout", "1s")
	if p.metricsURL == "" {
		t.Fatal("no metrics address announced")
	}
	if code := status(t, p.url+"/metrics", ""); code != 404 {
		t.Errorf("/metrics on the API address: %d, want 404", code)
	}
	if m := get(t, p.metricsURL, ""); !strings.Contains(m, "stigaudit_http_connections ") {
		t.Errorf("metrics address:\n%.500s", m)
	}
	// The stream keeps its own deadline: open longer than --write-timeout,
	// it still delivers.
	req, _ := http.NewRequest(http.MethodGet, p.url+"/v1/audit/stream", nil)
	req.Header.Set("Authorization", "Bearer "+p.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	time.Sleep(1500 * time.Millisecond)
	post(t, p.url, p.admin, `{"event_type":"fact_read","entity_uri":"urn:late"}`, 201)
	got := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "urn:late") {
				got <- true
				return
			}
		}
		got <- false
	}()
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("the stream ended without the event emitted after --write-timeout")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not deliver an event emitted after --write-timeout")
	}

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/v1/audit/events/abc", 400, "invalid_id"},
		{"/v1/audit/events/-1", 400, "invalid_id"},
		{"/v1/audit/events/0192f1a2-7b3c-7d4e-8f90-123456789abc", 404, "not_found"},
		{"/v1/audit?event_type=fact_read&x=%zz", 400, "invalid_query"},
		{"/v1/audit?" + strings.Repeat("event_type=fact_read&", 10001), 400, "invalid_query"},
	} {
		body, code := errorOf(t, p.url+tc.path, p.admin)
		if code != tc.status || !strings.Contains(body, `"code":"`+tc.code+`"`) || strings.Contains(body, "store:") {
			t.Errorf("GET %.60s: %d %s, want %d %s", tc.path, code, body, tc.status, tc.code)
		}
	}
}

// testTLS: HTTPS with a certificate from a CA made here, client
// certificates required (--client-ca), the certificate reloaded on SIGHUP
// without dropping an open connection, and export --server and bench
// --http over https:// with --ca-file.
func testTLS(t *testing.T, bin string) {
	pki := newPKI(t)
	certFile, keyFile := pki.issue(t, "server", 1)
	clientCert, clientKey := pki.issue(t, "client", 100)
	p := startServeWith(t, bin, t.TempDir(), 0, "--tls-cert", certFile, "--tls-key", keyFile, "--client-ca", pki.caFile)
	if !strings.HasPrefix(p.url, "https://") {
		t.Fatalf("announced %s", p.url)
	}
	pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	withCert := &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pair}}

	// No client certificate: refused.
	noCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool}}}
	if resp, err := noCert.Get(p.url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("served without a client certificate: %d", resp.StatusCode)
	}

	// With one: served, and the connection stays open across a reload.
	old, err := tls.Dial("tcp", p.addr, withCert)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	br := bufio.NewReader(old)
	ask := func() int {
		t.Helper()
		old.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(old, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("on the connection opened before the reload: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if ask() != 200 || old.ConnectionState().PeerCertificates[0].SerialNumber.Int64() != 1 {
		t.Fatal("first certificate not served")
	}
	pki.reissue(t, "server", 2, certFile, keyFile)
	p.cmd.Process.Signal(syscall.SIGHUP)
	var serial int64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c, err := tls.Dial("tcp", p.addr, withCert)
		if err != nil {
			t.Fatal(err)
		}
		serial = c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
		c.Close()
		if serial == 2 {
			break
		}
	}
	if serial != 2 {
		t.Fatalf("after SIGHUP new connections still get serial %d\n%s", serial, p.errText())
	}
	if ask() != 200 {
		t.Fatal("the connection opened before the reload was not served after it")
	}

	// The CLI over https:// with --ca-file and a client certificate.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: withCert}}
	req, _ := http.NewRequest(http.MethodPost, p.url+"/v1/audit/events", strings.NewReader(`{"event_type":"fact_read","entity_uri":"urn:u"}`))
	req.Header.Set("Authorization", "Bearer "+p.admin)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("emit over TLS: %d", resp.StatusCode)
	}
	t.Setenv("STIGAUDIT_KEY", p.admin)
	tlsArgs := []string{"--ca-file", pki.caFile, "--client-cert", clientCert, "--client-key", clientKey}
	code, out, errOut := cli(t, append([]string{"export", "--server", p.url, "--format", "ndjson"}, tlsArgs...)...)
	if code != 0 || !strings.Contains(out, `"urn:u"`) {
		t.Fatalf("export --server https:// --ca-file: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := cli(t, "export", "--server", p.url, "--format", "ndjson"); code == 0 || !strings.Contains(errOut, "certificate") {
		t.Errorf("export without --ca-file: exit %d, %s", code, errOut)
	}
	vkey := verifierKey(t, p.dataDir)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		code, out, errOut = cli(t, append([]string{"monitor", "--server", p.url, "--api-key", p.admin, "--key", vkey,
			"--state", t.TempDir(), "--once"}, tlsArgs...)...)
		if code == 0 || time.Now().After(deadline) {
			break
		}
	}
	if code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("monitor --server https:// --ca-file: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = cli(t, append([]string{"bench", "emit", "--http", p.url, "--key", p.admin, "--events", "20", "--concurrency", "2", "--json"}, tlsArgs...)...)
	var res struct {
		Events int   `json:"events"`
		Errors int64 `json:"errors"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Errors != 0 || res.Events != 20 {
		t.Fatalf("bench --http https:// --ca-file: exit %d\n%s\n%s", code, out, errOut)
	}
}

func post(t *testing.T, base, key, body string, want int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/audit/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d %s", body, resp.StatusCode, b)
	}
}

func errorOf(t *testing.T, url, key string) (string, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

func get(t *testing.T, url, key string) string {
	t.Helper()
	b, code := errorOf(t, url, key)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", url, code, b)
	}
	return b
}

func status(t *testing.T, url, key string) int {
	t.Helper()
	_, code := errorOf(t, url, key)
	return code
}

// testPKI is a CA made for one test.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
	pool   *x509.CertPool
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1000), Subject: pkix.Name{CommonName: "stigaudit test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{dir: t.TempDir(), ca: ca, caKey: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = filepath.Join(p.dir, "ca.pem")
	writePEM(t, p.caFile, "CERTIFICATE", der)
	return p
}

// issue makes a certificate for 127.0.0.1 (a server's, or a client's) and
// returns its files.
func (p *testPKI) issue(t *testing.T, name string, serial int64) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+".key")
	p.reissue(t, name, serial, certFile, keyFile)
	return certFile, keyFile
}

// reissue writes a new certificate and key over the files, each replaced
// whole (rename), as a certificate manager does.
func (p *testPKI) reissue(t *testing.T, name string, serial int64, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyFile, "PRIVATE KEY", kder)
	writePEM(t, certFile, "CERTIFICATE", der)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestServeRefusesNetworkSettings: settings the listener cannot honour
// stop serve before it opens anything, with a usage error.
func TestServeRefusesNetworkSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--retention", "99999999999d"}, "more than 100 years"},
		{[]string{"--retention", "36526d"}, "more than 100 years"},
		{[]string{"--retention", "99999999999999999999999d"}, "more than 100 years"},
		{[]string{"--idle-timeout", "0s"}, "--idle-timeout must be positive"},
		{[]string{"--tls-cert", "x.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--client-ca", "ca.pem"}, "--client-ca needs --tls-cert"},
		{[]string{"--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"}, "--tls-cert /nonexistent.pem"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			var out, errOut bytes.Buffer
			args := append([]string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}, tc.args...)
			code := run(context.Background(), args, &out, &errOut)
			if code == 0 || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q, want it to contain %q", code, errOut.String(), tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, DBFile)); err == nil {
				t.Errorf("refused serve created %s", DBFile)
			}
		})
	}
}

// TestDefaultMaxConns: the cap leaves an eighth of the descriptors (at
// least 64) for everything else.
func TestDefaultMaxConns(t *testing.T) {
	for _, tc := range []struct{ limit, want int }{{1024, 896}, {256, 192}, {65536, 57344}, {0, 4096}, {70, 16}} {
		if got := defaultMaxConns(tc.limit); got != tc.want {
			t.Errorf("defaultMaxConns(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
}
