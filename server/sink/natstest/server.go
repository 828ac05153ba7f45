package natstest

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a nats-server of the test's own, with JetStream, on a free
// loopback port and a temporary store directory, so that a test may stop
// and restart it without touching the machine's shared server.
type Server struct {
	// URL is nats://127.0.0.1:<port>; it stays the same across restarts.
	URL string

	t    testing.TB
	bin  string
	port int
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartServer starts a nats-server (from PATH, or /usr/sbin/nats-server)
// and stops it when the test ends. Without the binary the test is skipped,
// or fails with EnvRequire=1.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv(EnvRequire) == "1" {
				t.Fatalf("nats-server not found and %s=1 (install it: apt-get install -y nats-server)", EnvRequire)
			}
			t.Skipf("NATS outage test skipped: no nats-server binary (set %s=1 to require it)", EnvRequire)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{URL: "nats://127.0.0.1:" + strconv.Itoa(port), t: t, bin: bin, port: port, dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server (again), on the same port and store directory,
// and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting nats-server: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	addr := "127.0.0.1:" + strconv.Itoa(s.port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			s.t.Fatalf("nats-server on %s exited at start", addr)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("nats-server on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s) and waits for
// it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}
