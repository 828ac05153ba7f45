package main

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// connCap is a net.Listener that keeps the number of open client
// connections at most max, below the process's open-file limit, so that
// the server never stops accepting for want of a file descriptor.
//
// An idle connection (a keep-alive connection between requests, or a new
// one that has not sent a request yet) costs a descriptor and needs no
// key, so anyone can open many. When a connection arrives at the cap,
// the connection idle for the longest is closed to make room: its client
// loses nothing but a TCP connection it was not using (HTTP clients
// reconnect). Only when every connection is busy serving a request is the
// new one closed at once; requests are bounded in time (body, write and
// idle deadlines), so that state passes.
type connCap struct {
	net.Listener
	max int

	mu    sync.Mutex
	conns map[net.Conn]*capState // by the accepted (TCP) connection
	open  int                    // connections in conns not being closed

	shed    prometheus.Counter
	refused prometheus.Counter
}

// capState is what connCap knows of one connection.
type capState struct {
	state   http.ConnState
	since   time.Time // when it entered state
	closing bool
}

// newConnCap caps ln at max connections and registers its metrics in reg
// (when not nil).
func newConnCap(ln net.Listener, max int, reg prometheus.Registerer) *connCap {
	l := &connCap{Listener: ln, max: max, conns: map[net.Conn]*capState{}}
	shed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stigaudit_http_connections_shed_total",
		Help: "Client connections closed to stay under --max-conns: idle (the longest-idle connection made room for a new one) or refused (every connection was busy).",
	}, []string{"reason"})
	l.shed, l.refused = shed.WithLabelValues("idle"), shed.WithLabelValues("refused")
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stigaudit_http_connections",
		Help: "Open client connections (the cap is --max-conns).",
	}, func() float64 {
		l.mu.Lock()
		defer l.mu.Unlock()
		return float64(l.open)
	})
	if reg != nil {
		reg.MustRegister(shed, open)
	}
	return l
}

// Accept returns the next connection, making room for it first.
func (l *connCap) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		var victim net.Conn
		if l.open >= l.max {
			if victim = l.longestIdleLocked(); victim == nil {
				l.mu.Unlock()
				c.Close()
				l.refused.Inc()
				continue
			}
			l.conns[victim].closing = true
			l.open--
		}
		l.conns[c] = &capState{state: http.StateNew, since: time.Now()}
		l.open++
		l.mu.Unlock()
		if victim != nil {
			victim.Close() // its server goroutine sees the error and reports StateClosed
			l.shed.Inc()
		}
		return c, nil
	}
}

// longestIdleLocked returns the connection that has been idle (or new
// without a request) for the longest, or nil when every one is busy.
func (l *connCap) longestIdleLocked() net.Conn {
	var oldest net.Conn
	var since time.Time
	for c, s := range l.conns {
		if s.closing || s.state != http.StateIdle && s.state != http.StateNew {
			continue
		}
		if oldest == nil || s.since.Before(since) {
			oldest, since = c, s.since
		}
	}
	return oldest
}

// track is the server's ConnState hook.
func (l *connCap) track(c net.Conn, st http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.conns[c]
	if !ok {
		return
	}
	switch st {
	case http.StateClosed, http.StateHijacked:
		if !s.closing {
			l.open--
		}
		delete(l.conns, c)
	default:
		s.state, s.since = st, time.Now()
	}
}

// Open returns the number of open connections.
func (l *connCap) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}
