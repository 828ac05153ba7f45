package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/bench"
)

// overHTTP is stigaudit behind a real server.New handler on a loopback
// listener, batch events per POST /v1/audit/events (1: a single event;
// more: {"events":[...]}, which the server commits atomically).
func overHTTP(batch int) peer {
	name := "stigaudit HTTP, 1 event/request"
	if batch > 1 {
		name = fmt.Sprintf("stigaudit HTTP, batch %d", batch)
	}
	return peer{
		Name:    name,
		PerCall: batch,
		Open: func(ctx context.Context, dir string) (*session, error) {
			return openHTTP(ctx, dir, batch)
		},
	}
}

func openHTTP(ctx context.Context, dir string, batch int) (*session, error) {
	quiet := slog.New(slog.DiscardHandler)
	st, err := sqlitestore.Open(filepath.Join(dir, "stigaudit.db"), storeOptions)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	l, err := stigaudit.Open(stigaudit.Options{Store: st, Logger: quiet})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("stigaudit: %w", err)
	}
	keys := auth.New(st.APIKeys(), auth.Options{})
	key, _, err := keys.Create(ctx, auth.Spec{Tenant: "bench", EntityURI: "urn:bench:writer", Perms: auth.PermAuditWrite})
	if err != nil {
		closeBoth(l.Close, st.Close)
		return nil, fmt.Errorf("api key: %w", err)
	}
	h, err := server.New(server.Config{Log: l, Keys: keys, Store: st, Logger: quiet})
	if err != nil {
		closeBoth(l.Close, st.Close)
		return nil, fmt.Errorf("server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		closeBoth(l.Close, st.Close)
		return nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)

	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	url := "http://" + ln.Addr().String() + "/v1/audit/events"
	call := func(ctx context.Context, w, i int) error {
		var body bytes.Buffer
		if batch == 1 {
			body.Write(newSample(w, i).JSON())
		} else {
			body.WriteString(`{"events":[`)
			for j := range batch {
				if j > 0 {
					body.WriteByte(',')
				}
				body.Write(newSample(w, i*batch+j).JSON())
			}
			body.WriteString(`]}`)
		}
		return bench.PostEvents(ctx, client, url, key, &body)
	}
	closeAll := func() error {
		tr.CloseIdleConnections()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		return errors.Join(err, closeBoth(l.Close, st.Close))
	}
	return &session{Call: call, Close: closeAll}, nil
}
