package main

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestConnCap: at the cap, a new connection closes the one idle the
// longest; when every connection is busy, the new one is closed instead.
func TestConnCap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	reg := prometheus.NewRegistry()
	capped := newConnCap(ln, 3, reg)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/busy" {
				<-release
			}
		}),
		ConnState: capped.track,
	}
	go srv.Serve(capped)
	defer srv.Close()
	addr := ln.Addr().String()

	var idle []net.Conn
	for i := 0; i < 3; i++ {
		c, err := idleConn(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
		time.Sleep(10 * time.Millisecond) // distinct idle times
	}
	// A fourth: the first (idle the longest) is closed, the others stay.
	c4, err := idleConn(addr)
	if err != nil {
		t.Fatalf("a connection at the cap was not served: %v", err)
	}
	defer c4.Close()
	if !closedByServer(idle[0]) {
		t.Error("the longest-idle connection was not closed")
	}
	for _, c := range idle[1:] {
		if closedByServer(c) {
			t.Error("a more recently idle connection was closed")
		}
	}
	if got := counterValue(capped.shed); got != 1 {
		t.Errorf("shed idle = %v, want 1", got)
	}

	// Every connection busy: the new one is refused, none is cut.
	var busy []net.Conn
	for _, c := range append(idle[1:], c4) {
		io.WriteString(c, "GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")
		busy = append(busy, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for active(capped) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c5, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c5.Close()
	if !closedByServer(c5) {
		t.Error("a connection beyond a cap of busy ones was not refused")
	}
	if got := counterValue(capped.refused); got != 1 {
		t.Errorf("refused = %v, want 1", got)
	}
	close(release)
	for _, c := range busy {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 512)); n == 0 {
			t.Errorf("a busy connection was cut: %v", err)
		}
	}
}

// closedByServer reports whether the server closed c (a read ends at once
// with EOF or a reset rather than timing out).
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	c.SetReadDeadline(time.Time{})
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

func active(l *connCap) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.conns {
		if s.state == http.StateActive {
			n++
		}
	}
	return n
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
