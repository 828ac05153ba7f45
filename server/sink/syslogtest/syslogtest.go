// Package syslogtest runs an rsyslogd of a test's own: its own
// configuration file, work directory, pid file and loopback port, an imtcp
// input (plain TCP, or TLS through rsyslog's gtls netstream driver with a
// CA and certificate generated for the test) and an omfile action that
// writes each message received, exactly as received (%rawmsg%), as one line
// of a file in the test's temporary directory. It never touches the
// machine's rsyslog service or /etc/rsyslog.conf.
//
// Without rsyslogd (Debian: apt-get install -y rsyslog rsyslog-gnutls) the
// test is skipped, or fails when STIGAUDIT_REQUIRE_RSYSLOG=1 (CI sets it).
package syslogtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvRequire, set to 1 (CI does), turns the skip without rsyslogd (or its
// gtls driver, for TLS) into a failure.
const EnvRequire = "STIGAUDIT_REQUIRE_RSYSLOG"

// Options choose the daemon's input.
type Options struct {
	// TLS makes the input RFC 5425 syslog over TLS (gtls driver,
	// anonymous client authentication) with a certificate for 127.0.0.1
	// issued by a CA of the test's own (Daemon.CAFile).
	TLS bool
}

// Daemon is an rsyslogd of the test's own. Its address and files stay the
// same across restarts.
type Daemon struct {
	// Addr is 127.0.0.1:<port>.
	Addr string
	// Out is the file the messages are written to, one per line.
	Out string
	// CAFile is the PEM certificate of the CA that issued the daemon's
	// TLS certificate; "" without TLS.
	CAFile string

	t      testing.TB
	bin    string
	dir    string
	conf   string
	stderr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start writes the configuration and starts rsyslogd, and stops it when
// the test ends. Without rsyslogd the test is skipped (fails with
// EnvRequire=1).
func Start(t testing.TB, o Options) *Daemon {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		bin = "/usr/sbin/rsyslogd"
		if _, err := os.Stat(bin); err != nil {
			missing(t, "no rsyslogd binary (apt-get install -y rsyslog)")
		}
	}
	if o.TLS && !haveGTLS() {
		missing(t, "no rsyslog gtls netstream driver, lmnsd_gtls.so (apt-get install -y rsyslog-gnutls)")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	d := &Daemon{
		Addr:   "127.0.0.1:" + strconv.Itoa(port),
		Out:    filepath.Join(dir, "messages.log"),
		t:      t,
		bin:    bin,
		dir:    dir,
		conf:   filepath.Join(dir, "rsyslog.conf"),
		stderr: filepath.Join(dir, "rsyslogd.stderr"),
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	var global, module string
	if o.TLS {
		ca, cert, key, err := writeTLSFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		d.CAFile = ca
		global = fmt.Sprintf(" DefaultNetstreamDriverCAFile=%q DefaultNetstreamDriverCertFile=%q DefaultNetstreamDriverKeyFile=%q", ca, cert, key)
		module = ` StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"`
	}
	conf := fmt.Sprintf(`# rsyslogd of a test of its own (server/sink/syslogtest).
global(workDirectory=%q maxMessageSize="256k"%s)
module(load="imtcp"%s)
template(name="raw" type="string" string="%%rawmsg%%\n")
ruleset(name="out") {
	action(type="omfile" file=%q template="raw")
}
input(type="imtcp" port="%d" address="127.0.0.1" ruleset="out")
`, work, global, module, d.Out, port)
	if err := os.WriteFile(d.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(d.Stop)
	return d
}

func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("%s and %s=1", what, EnvRequire)
	}
	t.Skipf("rsyslog test skipped: %s; set %s=1 to require it", what, EnvRequire)
}

// haveGTLS reports whether rsyslog's gtls netstream driver is installed.
func haveGTLS() bool {
	for _, pattern := range []string{"/usr/lib/*/rsyslog/lmnsd_gtls.so", "/usr/lib/rsyslog/lmnsd_gtls.so", "/usr/lib64/rsyslog/lmnsd_gtls.so"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return true
		}
	}
	return false
}

// Start starts rsyslogd (again) and waits until it accepts connections.
func (d *Daemon) Start() {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil {
		return
	}
	errf, err := os.OpenFile(d.stderr, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer errf.Close()
	cmd := exec.Command(d.bin, "-n", "-f", d.conf, "-i", filepath.Join(d.dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = errf, errf
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("starting rsyslogd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	d.cmd, d.done = cmd, done
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			d.cmd = nil
			d.t.Fatalf("rsyslogd exited at start: %s", d.stderrTail())
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("rsyslogd on %s: %v; %s", d.Addr, err, d.stderrTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops rsyslogd (SIGTERM, then SIGKILL after 10 s) and waits for it
// to exit; the output file is then complete. Stopping a stopped daemon
// does nothing.
func (d *Daemon) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	d.cmd = nil
}

// Lines returns the messages written so far, one per line, without the
// newline. Stop the daemon first for all of them.
func (d *Daemon) Lines(t testing.TB) [][]byte {
	t.Helper()
	b, err := os.ReadFile(d.Out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) == 0 {
		return nil
	}
	return bytes.Split(b, []byte("\n"))
}

func (d *Daemon) stderrTail() string {
	b, _ := os.ReadFile(d.stderr)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return fmt.Sprintf("rsyslogd's output (%s):\n%s", d.stderr, b)
}

// writeTLSFiles generates a CA and a server certificate for 127.0.0.1 and
// localhost, and writes them, PEM, into dir.
func writeTLSFiles(dir string) (caFile, certFile, keyFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "stigaudit syslogtest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", "", err
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{caFile, "CERTIFICATE", caDER}, {certFile, "CERTIFICATE", der}, {keyFile, "PRIVATE KEY", keyDER}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			return "", "", "", err
		}
	}
	return caFile, certFile, keyFile, nil
}
