package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/server"
	"github.com/stigaudit/stigaudit/server/api"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/datadir"
	"github.com/stigaudit/stigaudit/server/health"
	"github.com/stigaudit/stigaudit/server/metrics"
	"github.com/stigaudit/stigaudit/server/ocsf"
	"github.com/stigaudit/stigaudit/server/sink"
	"github.com/stigaudit/stigaudit/server/stream"
	"github.com/stigaudit/stigaudit/server/tlog"
	"github.com/stigaudit/stigaudit/server/witness"
	"github.com/stigaudit/stigaudit/web"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	var cf complianceFlags
	var af abuseFlags
	var listen, catFile, node, origin, policyFile string
	var allowShared bool
	maxWait := api.DefaultMaxWait
	minFree := byteSize(health.DefaultMinFree)
	var sinks multiFlag
	var nf netFlags
	lim := event.DefaultLimits()
	fs := newFlagSet("serve")
	c.register(fs)
	c.registerMaxBatch(fs)
	cf.register(fs)
	nf.register(fs)
	af.register(fs)
	fs.StringVar(&listen, "listen", "127.0.0.1:8470", "address to listen on (env STIGAUDIT_LISTEN)")
	fs.StringVar(&catFile, "catalogue", "", "JSON file of operator-added event types (env STIGAUDIT_CATALOGUE)")
	fs.StringVar(&node, "node", tlog.DefaultNode, nodeFlag)
	fs.StringVar(&origin, "origin", "", originFlag)
	fs.StringVar(&policyFile, "witness-policy", "", "C2SP tlog-policy file naming the witnesses that cosign the log's checkpoints and their quorum (env STIGAUDIT_WITNESS_POLICY)")
	fs.Var(&sinks, "sink", "deliver committed events to a sink, e.g. file:/var/log/audit.jsonl (repeatable)")
	fs.DurationVar(&maxWait, "max-wait", maxWait, "longest POST /v1/audit/events?wait=checkpoint|witnessed waits for its receipts before answering 202 without them")
	fs.BoolVar(&allowShared, "allow-shared-data-dir", false, "start even when another server holds the data directory's lock")
	fs.Var(&minFree, "min-free-disk", "free space on the data directory's disk below which /readyz answers 503, e.g. 64MiB or 1GiB")
	fs.IntVar(&lim.MaxDetailBytes, "max-detail-bytes", lim.MaxDetailBytes, "largest canonical detail object")
	fs.IntVar(&lim.MaxDetailDepth, "max-detail-depth", lim.MaxDetailDepth, "deepest detail nesting")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if err := checkLimits(lim); err != nil {
		return err
	}
	if err := nf.check(); err != nil {
		return err
	}
	if err := af.check(); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	if _, _, err := cf.policy(); err != nil {
		return err
	}

	cat := catalog.Default()
	if catFile != "" {
		data, err := os.ReadFile(catFile)
		if err != nil {
			return fmt.Errorf("reading catalogue: %w", err)
		}
		if cat, err = cat.Extend(data); err != nil {
			return fmt.Errorf("catalogue %s: %w", catFile, err)
		}
		if _, err := ocsf.NewEncoder("").WithCatalogue(cat); err != nil {
			return fmt.Errorf("catalogue %s: %w", catFile, err)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pol, err := cf.redaction(c.dataDir) // before the sinks: a sink's redact= uses it
	if err != nil {
		return err
	}
	// The log's origin (metadata.log_name of format=ocsf sinks) is its
	// checkpoint key's, loaded by startSigning once the log is open: a
	// format=ocsf sink's first Write waits for it (or for serve to give
	// up starting, so that stopping the sinks does not wait for it).
	originKnown := make(chan struct{})
	settleOrigin := sync.OnceFunc(func() { close(originKnown) })
	sinkOrigin := func(ctx context.Context) (string, error) {
		select {
		case <-originKnown:
			if c.logOrigin == "" {
				return "", errors.New("the checkpoint key was not loaded")
			}
			return c.logOrigin, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	var sk []sink.Sink
	for _, spec := range sinks {
		s, err := sink.ParseWith(spec, sink.ParseOptions{DataDir: c.dataDir, Redaction: pol, Origin: sinkOrigin, Catalogue: cat})
		if err != nil {
			return fmt.Errorf("--sink %s: %w", spec, err)
		}
		sk = append(sk, s)
	}
	m, err := metrics.New(metrics.Config{Registerer: reg, Sinks: sk})
	if err != nil {
		return err
	}

	dir, err := datadir.Open(c.dataDir, datadir.Options{Shared: allowShared})
	if err != nil {
		return err
	}
	defer dir.Close()
	store, err := c.openStore(ctx, storeOptions{OnCommit: m.ObserveCommit, Logger: logger})
	if err != nil {
		return err
	}
	if err := registerPostgresMetrics(reg, store); err != nil {
		store.Close()
		return err
	}
	hub := stream.NewHub(af.hubOptions()) // live SSE readers see every commit
	obs, stopFeed, err := feedSinks(ctx, store, m, sk, hub, logger)
	if err != nil {
		store.Close()
		return err
	}
	log, err := stigaudit.Open(stigaudit.Options{Store: store, Catalogue: cat, Limits: lim, Logger: logger, Observer: obs})
	if err != nil {
		settleOrigin()
		stopFeed()
		store.Close()
		return err
	}
	defer log.Close()
	defer stopFeed()     // before log.Close: saves the sinks' cursors in the store
	defer settleOrigin() // before stopFeed, if serve gives up before signing
	defer reopenSinksOnSIGHUP(sk, logger)()

	// With PostgreSQL replicas only the replica elected to sign talks to
	// the witnesses; until the election is known, none does.
	var signer atomic.Pointer[pgstore.Leader]
	var active func() bool
	var shared witness.Shared
	if store.replicated() {
		active = func() bool { l := signer.Load(); return l != nil && l.IsLeader() }
		shared = store.witnessed()
	}
	wit, err := startWitnessing(policyFile, store, reg, logger, active, shared)
	if err != nil {
		return err
	}
	defer wit.Close()
	cp, stopSigning, err := c.startSigning(ctx, node, origin, wit.Submit, store, reg, logger)
	if err != nil {
		return err
	}
	signer.Store(c.signingLeader)
	settleOrigin()      // c.logOrigin is set
	defer stopSigning() // before log.Close: signs the tail

	var ko auth.Options
	ko.Logger = logger  // says once per outage that keys are kept on their grace
	ko.Registerer = reg // stigaudit_auth_failures_total{key_id}, stigaudit_auth_limited_total{by}
	keys := auth.New(store.APIKeys(), ko)
	keyFile, err := keys.Bootstrap(ctx, c.dataDir)
	if errors.Is(err, auth.ErrAdminKeyExists) {
		return fmt.Errorf("%w; the database %s has no API keys, so it is not the one that key was made for (deleted or replaced?): put the database back, or start a new log with: "+datadir.RecoverCommand, err, c.databaseName(), c.dataDir)
	}
	if err != nil {
		return fmt.Errorf("creating the admin key: %w", err)
	}
	if keyFile != "" {
		logger.Info("created the first admin key", slog.String("admin_key_file", keyFile))
		list, err := keys.List(ctx)
		if err != nil || len(list) != 1 {
			return fmt.Errorf("reading back the bootstrap key: %v", err)
		}
		if err := auditKeyEvent(ctx, log, "api_key_create", list[0], "urn:stigaudit:bootstrap"); err != nil {
			return fmt.Errorf("auditing the bootstrap admin key: %w", err)
		}
	} else {
		keyFile = filepath.Join(c.dataDir, auth.AdminKeyFile)
		if _, err := os.Stat(keyFile); err != nil {
			keyFile = "(not on disk; create keys with 'stigaudit keys create')"
		}
	}

	ready := []health.Check{health.DiskFree(c.dataDir, uint64(minFree)), {Name: "checkpointer", Run: cp.Ready}, {Name: "witnesses", Run: wit.Ready}}
	if h := store.health(); h != nil {
		ready = append(ready, health.Check{Name: "database", Run: h})
	}
	purging := store.purging()
	stopRetention, err := cf.startRetention(ctx, purging, log, logger)
	if err != nil {
		return err
	}
	defer stopRetention() // before log.Close
	var site web.Config   // the verifier key is advertised by the browser preview; operators pin their own copy
	if k, err := tlog.LoadKey(c.dataDir); err == nil {
		site.VerifierKey = k.VerifierKey
	}
	srv, err := server.New(server.Config{
		Log: log, Keys: keys, Store: store, Logger: logger,
		Metrics: m, Gatherer: nf.gatherer(reg), Ready: ready, RateLimit: af.rateLimit, Redaction: pol,
		Checkpointer: cp, Witnessed: wit.Witnessed(), WitnessedSized: wit.WitnessedSized(), MaxWait: maxWait,
		History:      func() (tlog.History, error) { return tlog.HistoryOf(c.dataDir) },
		ExportSigner: wit.ExportSigner(cp), Hub: hub, Purges: purging, Stats: store,
		Web: &site,
	})
	if err != nil {
		return err
	}
	return nf.serve(ctx, listen, srv, reg, logger, stdout, serveInfo{dataDir: c.dataDir, keyFile: keyFile}, hub.Close) // hub.Close: end live streams, or shutdown waits for them
}

// maxDetailDepth bounds --max-detail-depth: far deeper than any audit
// detail needs, and shallow enough that every host's parser (native, the
// WASM module's configure, the browser page) accepts the same setting.
const maxDetailDepth = 1000

// maxDetailBytes bounds --max-detail-bytes: an event is served in
// tlog-tiles entry bundles, whose entries are at most 65,535 bytes; its
// other fields take at most about 26 KiB (1,024 bytes each, source 4,096,
// some escaped), so a detail of 32 KiB always fits.
const maxDetailBytes = 32 << 10

// checkLimits refuses detail limits the server could never honour: a
// detail larger than a whole request body (stigaudit.Limits.MaxRequestBytes) cannot
// arrive, and the browser page configures its core with the same limits,
// so a setting the core would refuse must not start the server either.
func checkLimits(lim event.Limits) error {
	if lim.MaxDetailBytes < 1 || lim.MaxDetailBytes > maxDetailBytes {
		return fmt.Errorf("%w: --max-detail-bytes must be from 1 to %d (so that every event fits a tlog-tiles entry of %d bytes), not %d", errUsage, maxDetailBytes, tlog.MaxEntryBytes, lim.MaxDetailBytes)
	}
	if lim.MaxDetailDepth < 1 || lim.MaxDetailDepth > maxDetailDepth {
		return fmt.Errorf("%w: --max-detail-depth must be from 1 to %d, not %d", errUsage, maxDetailDepth, lim.MaxDetailDepth)
	}
	return nil
}
