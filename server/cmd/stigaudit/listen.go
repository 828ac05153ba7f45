package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stigaudit/stigaudit/server/api"
	"github.com/stigaudit/stigaudit/server/exportapi"
	"github.com/stigaudit/stigaudit/server/stream"
)

// The listener of serve (docs/operations.md#connections, "Connections are bounded"): the
// http.Server with its timeouts and connection cap, TLS with a certificate
// reloaded on SIGHUP, the separate metrics address, and a shutdown that
// does not wait for slow clients.

// Listener defaults.
const (
	defaultIdleTimeout = 120 * time.Second
	// readHeaderTimeout bounds a request's header, and a new connection
	// that sends nothing.
	readHeaderTimeout = 10 * time.Second
	// shutdownGrace is how long shutdown lets requests in flight finish
	// before closing their connections, and then how long it waits for
	// their handlers to return.
	shutdownGrace = 1 * time.Second
	drainWait     = 500 * time.Millisecond
)

// netFlags are serve's flags for the listener.
type netFlags struct {
	idleTimeout   time.Duration
	writeTimeout  time.Duration
	bodyTimeout   time.Duration
	maxConns      int
	tlsCert       string
	tlsKey        string
	clientCA      string
	metricsListen string

	certs *certReloader // loaded by check when TLS is on
}

func (n *netFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&n.idleTimeout, "idle-timeout", defaultIdleTimeout,
		"close a keep-alive connection idle this long (env STIGAUDIT_IDLE_TIMEOUT)")
	fs.DurationVar(&n.writeTimeout, "write-timeout", api.DefaultWriteTimeout,
		"longest an answer may take to be delivered; an export applies it to each write instead, the live stream keeps its own (env STIGAUDIT_WRITE_TIMEOUT)")
	fs.DurationVar(&n.bodyTimeout, "body-timeout", api.DefaultBodyTimeout,
		"longest a request body may take to arrive (one slower than 1 KiB/s after 5s is cut sooner) (env STIGAUDIT_BODY_TIMEOUT)")
	fs.IntVar(&n.maxConns, "max-conns", 0,
		"most open client connections; 0: the open-file limit less an eighth (at least 64) kept for the store, sinks and logs (env STIGAUDIT_MAX_CONNS)")
	fs.StringVar(&n.tlsCert, "tls-cert", "",
		"PEM certificate chain: serve HTTPS with --tls-key; both are read again on SIGHUP (env STIGAUDIT_TLS_CERT)")
	fs.StringVar(&n.tlsKey, "tls-key", "", "PEM private key of --tls-cert (env STIGAUDIT_TLS_KEY)")
	fs.StringVar(&n.clientCA, "client-ca", "",
		"PEM CA certificates: require a client certificate signed by one of them (mutual TLS; read again on SIGHUP) (env STIGAUDIT_CLIENT_CA)")
	fs.StringVar(&n.metricsListen, "metrics-listen", "",
		"serve /metrics on this address instead of --listen, without a key: keep it off public networks (env STIGAUDIT_METRICS_LISTEN)")
}

// check refuses settings the listener cannot honour and loads the TLS
// files, before serve opens anything.
func (n *netFlags) check() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--idle-timeout", n.idleTimeout}, {"--write-timeout", n.writeTimeout}, {"--body-timeout", n.bodyTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("%w: %s must be positive, not %s", errUsage, d.name, d.v)
		}
	}
	if n.maxConns < 0 {
		return fmt.Errorf("%w: --max-conns must not be negative", errUsage)
	}
	if (n.tlsCert == "") != (n.tlsKey == "") {
		return fmt.Errorf("%w: --tls-cert and --tls-key go together", errUsage)
	}
	if n.clientCA != "" && n.tlsCert == "" {
		return fmt.Errorf("%w: --client-ca needs --tls-cert and --tls-key (client certificates are a TLS feature)", errUsage)
	}
	if n.tlsCert != "" {
		n.certs = &certReloader{certFile: n.tlsCert, keyFile: n.tlsKey, caFile: n.clientCA}
		if _, err := n.certs.load(); err != nil {
			return err
		}
	}
	return nil
}

// gatherer is what api.Config.Gatherer gets: reg, or nil when
// --metrics-listen serves the metrics on their own address.
func (n *netFlags) gatherer(reg prometheus.Gatherer) prometheus.Gatherer {
	if n.metricsListen != "" {
		return nil
	}
	return reg
}

// serveInfo is what serve announces once it listens.
type serveInfo struct {
	dataDir string
	keyFile string
}

// serve listens on addr and serves h until ctx is done, then shuts down:
// idle connections close at once, requests in flight get shutdownGrace to
// finish and are then cut. onShutdown functions run when shutdown starts
// (to end live streams). A shutdown is not an error.
func (n *netFlags) serve(ctx context.Context, addr string, h http.Handler, reg *prometheus.Registry, logger *slog.Logger,
	stdout io.Writer, info serveInfo, onShutdown ...func()) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	limit := n.maxConns
	if limit == 0 {
		limit = defaultMaxConns(openFileLimit())
	}
	capped := newConnCap(ln, limit, reg)
	bounded := api.Bound(h, api.Bounds{
		WriteTimeout: n.writeTimeout,
		BodyTimeout:  n.bodyTimeout,
		Streaming:    []string{exportapi.Route},
		OwnDeadlines: []string{stream.Route},
	})
	srv := &http.Server{
		Handler:           bounded,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       n.idleTimeout,
		ConnState:         capped.track,
		ErrorLog:          serverErrorLog(logger),
		Protocols:         http1Only(),
	}
	for _, f := range onShutdown {
		srv.RegisterOnShutdown(f)
	}
	scheme := "http"
	if n.certs != nil {
		scheme = "https"
		srv.TLSConfig = n.certs.serverConfig()
		stopHUP := n.certs.reloadOnSIGHUP(logger)
		defer stopHUP()
	}
	var metricsSrv *http.Server
	if n.metricsListen != "" {
		mln, err := net.Listen("tcp", n.metricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: n.idleTimeout,
			WriteTimeout: n.writeTimeout, ErrorLog: serverErrorLog(logger)}
		go metricsSrv.Serve(mln)
		defer metricsSrv.Close()
		logger.Info("serving metrics apart", slog.String("metrics_listen", mln.Addr().String()))
		fmt.Fprintf(stdout, "stigaudit metrics on http://%s/metrics\n", mln.Addr())
	}
	logger.Info("stigaudit serving", slog.String("listen", ln.Addr().String()), slog.String("data_dir", info.dataDir),
		slog.String("admin_key_file", info.keyFile), slog.Bool("tls", n.certs != nil), slog.Bool("client_certificates", n.clientCA != ""),
		slog.Int("max_conns", limit), slog.Duration("idle_timeout", n.idleTimeout))
	fmt.Fprintf(stdout, "stigaudit listening on %s://%s\nadmin key: %s\n", scheme, ln.Addr(), info.keyFile)

	errc := make(chan error, 1)
	go func() {
		if n.certs != nil {
			errc <- srv.ServeTLS(capped, "", "")
		} else {
			errc <- srv.Serve(capped)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", slog.Int("requests_in_flight", bounded.InFlight()), slog.Int("connections", capped.Open()))
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	err = srv.Shutdown(sctx)
	cancel()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		unfinished := bounded.InFlight()
		srv.Close() // cuts the requests still running: slow uploads, slow readers
		wctx, cancel := context.WithTimeout(context.Background(), drainWait)
		_ = bounded.Wait(wctx)
		cancel()
		logger.Info("closed unfinished requests", slog.Int("requests", unfinished), slog.Int("still_returning", bounded.InFlight()))
	}
	return nil
}

// defaultMaxConns is the connection cap for an open-file limit: the limit
// less an eighth (at least 64 descriptors) for the store, sinks, logs and
// the metrics address; 4096 when the limit is unknown.
func defaultMaxConns(fdLimit int) int {
	if fdLimit <= 0 {
		return 4096
	}
	return max(fdLimit-max(64, fdLimit/8), 16)
}

// http1Only serves HTTP/1.1 only (also over TLS): one request at a time
// per connection, so the connection cap and the per-request deadlines
// bound what a client can hold.
func http1Only() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	return &p
}

// serverErrorLog routes net/http's own log lines to logger: failed TLS
// handshakes (scanners, clients without a certificate) at debug, the rest
// (accept errors) at warn.
func serverErrorLog(logger *slog.Logger) *log.Logger {
	return log.New(errorLogWriter{logger}, "", 0)
}

type errorLogWriter struct{ logger *slog.Logger }

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimSpace(p))
	level := slog.LevelWarn
	if bytes.Contains(p, []byte("TLS handshake error")) {
		level = slog.LevelDebug
	}
	w.logger.Log(context.Background(), level, "http server", slog.String("error", msg))
	return len(p), nil
}

// certReloader holds the TLS configuration built from --tls-cert,
// --tls-key and --client-ca, swapped whole on reload: a handshake sees
// the old files or the new ones, never a mix, and connections already
// open are not touched.
type certReloader struct {
	certFile, keyFile, caFile string
	cur                       atomic.Pointer[tls.Config]
}

// load reads the files and, when they are valid, makes them current. It
// returns the leaf certificate.
func (r *certReloader) load() (*x509.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s / --tls-key %s: %w", r.certFile, r.keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("--tls-cert %s: %w", r.certFile, err)
		}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}, NextProtos: []string{"http/1.1"}}
	if r.caFile != "" {
		pem, err := os.ReadFile(r.caFile)
		if err != nil {
			return nil, fmt.Errorf("--client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--client-ca %s: no PEM certificate in it", r.caFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	r.cur.Store(cfg)
	return leaf, nil
}

// serverConfig is the server's tls.Config: every handshake takes the
// current configuration.
func (r *certReloader) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.cur.Load(), nil
		},
	}
}

// reloadOnSIGHUP reloads the files on every SIGHUP until the returned
// function is called. A reload that fails keeps the previous files and
// says why.
func (r *certReloader) reloadOnSIGHUP(logger *slog.Logger) func() {
	return onSIGHUP(func() {
		leaf, err := r.load()
		if err != nil {
			logger.Error("TLS reload failed; still serving the previous certificate", slog.String("error", err.Error()))
			return
		}
		logger.Info("TLS certificate reloaded", slog.String("subject", leaf.Subject.String()),
			slog.String("serial", leaf.SerialNumber.String()), slog.Time("not_after", leaf.NotAfter))
	})
}
