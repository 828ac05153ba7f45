package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stigaudit/stigaudit/server/monitor"
	"github.com/stigaudit/stigaudit/server/witness"
)

const monitorUsage = `usage: stigaudit monitor --server URL --api-key KEY --verifier-key KEY --state DIR [--tiles] [--witness-policy F] [--once] [--interval 10s] [--alert-webhook URL --alert-secret-file F] [--metrics-listen ADDR]

Keeps the last checkpoint of the log it verified in DIR and, every
--interval (or once with --once), fetches the newest one, checks its
signature (and the witness quorum), proves it consistent with the kept one,
reads the new events and re-computes their leaf hashes and the root. A
rollback, fork, bad signature, missing quorum or changed event is an alert:
an ERROR line, stigaudit_monitor_alerts_total{kind}, a POST to
--alert-webhook signed with HMAC-SHA256 (header X-Stigaudit-Signature), and
with --once exit status 1. The API key must be an admin key (the log spans
every tenant), except with --tiles: the monitor then follows the log's
tlog-tiles (the checkpoint and the level-0 hash tiles), which any read key
may fetch, and proves each checkpoint consistent with the kept one from the
leaf hashes; it does not read the events' content.`

func cmdMonitor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var server, apiKey, keyArg, stateDir, policyFile, webhook, secretFile, metricsAddr string
	var once, tiles bool
	var interval time.Duration
	fs := newFlagSet("monitor")
	fs.StringVar(&server, "server", "", "base URL of the stigaudit server")
	fs.StringVar(&apiKey, "api-key", "", "admin API key (env STIGAUDIT_KEY)")
	fs.StringVar(&keyArg, "verifier-key", "", "checkpoint verifier key, or a file holding it (env STIGAUDIT_VERIFIER_KEY)")
	deprecatedFlag(fs, "key", "verifier-key")
	fs.StringVar(&stateDir, "state", "", "directory keeping the last verified checkpoint")
	fs.StringVar(&policyFile, "witness-policy", "", "C2SP tlog-policy: require its quorum of cosignatures")
	fs.BoolVar(&once, "once", false, "check once; exit 1 on an alert")
	fs.BoolVar(&tiles, "tiles", false, "follow the log's tlog-tiles with any read key (the tree, not the events' content)")
	fs.DurationVar(&interval, "interval", 10*time.Second, "time between checks")
	fs.StringVar(&webhook, "alert-webhook", "", "URL to POST each alert to (JSON)")
	fs.StringVar(&secretFile, "alert-secret-file", "", "file holding the HMAC-SHA256 secret that signs webhook alerts")
	fs.StringVar(&metricsAddr, "metrics-listen", "", "address to serve /metrics on")
	registerClientTLS(fs) // for --server https://...
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	warnDeprecated(fs, stderr)
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if server == "" || keyArg == "" || stateDir == "" {
		return fmt.Errorf("%w: --server, --verifier-key and --state are required", errUsage)
	}
	key, err := readVerifierKey(keyArg)
	if err != nil {
		return err
	}
	cfg := monitor.Config{Server: strings.TrimSuffix(server, "/"), APIKey: apiKey, Verifier: key, StateDir: stateDir, Tiles: tiles}
	if tlsConf, err := clientTLS(fs); err != nil {
		return err
	} else if tlsConf != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsConf
		cfg.Client = &http.Client{Transport: tr}
	}
	if policyFile != "" {
		text, err := os.ReadFile(policyFile)
		if err != nil {
			return fmt.Errorf("--witness-policy: %w", err)
		}
		if cfg.Policy, err = witness.ParsePolicy(text); err != nil {
			return fmt.Errorf("--witness-policy %s: %w", policyFile, err)
		}
	}
	var secret []byte
	if webhook != "" {
		if secretFile == "" {
			return fmt.Errorf("%w: --alert-webhook needs --alert-secret-file", errUsage)
		}
		if secret, err = os.ReadFile(secretFile); err != nil {
			return fmt.Errorf("--alert-secret-file: %w", err)
		}
		secret = bytes.TrimSpace(secret)
	}
	m, err := monitor.Open(cfg)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	reg := prometheus.NewRegistry()
	alerts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stigaudit_monitor_alerts_total", Help: "Alerts raised, by kind."}, []string{"kind"})
	verified := prometheus.NewGauge(prometheus.GaugeOpts{Name: "stigaudit_monitor_verified_size", Help: "Tree size of the last verified checkpoint."})
	reg.MustRegister(alerts, verified)
	if metricsAddr != "" {
		srv := &http.Server{Addr: metricsAddr, Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
		go srv.ListenAndServe()
		defer srv.Close()
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err := m.Check(cctx)
		cancel()
		var a *monitor.Alert
		switch {
		case errors.As(err, &a):
			alerts.WithLabelValues(a.Kind).Inc()
			logger.Error("MONITOR ALERT: the log is not the one verified before", slog.String("kind", a.Kind), slog.String("message", a.Message), slog.String("server", server))
			if webhook != "" {
				if werr := postAlert(ctx, webhook, secret, server, a); werr != nil {
					logger.Error("alert webhook failed", slog.String("error", werr.Error()))
				}
			}
			if once {
				return fmt.Errorf("ALERT %s", a)
			}
		case err != nil:
			logger.Warn("check failed; nothing concluded", slog.String("error", err.Error()))
			if once {
				return err
			}
		default:
			verified.Set(float64(m.Size()))
			logger.Info("verified", slog.Uint64("size", m.Size()))
			if once {
				fmt.Fprintf(stdout, "OK: size %d verified\n", m.Size())
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// postAlert sends an alert to the webhook, signed with HMAC-SHA256 over the
// body in X-Stigaudit-Signature: sha256=<hex>.
func postAlert(ctx context.Context, url string, secret []byte, server string, a *monitor.Alert) error {
	body, _ := json.Marshal(map[string]string{"kind": a.Kind, "message": a.Message, "server": server, "time": time.Now().UTC().Format(time.RFC3339)})
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Stigaudit-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered HTTP %d", resp.StatusCode)
	}
	return nil
}
