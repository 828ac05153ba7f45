package api

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server/auth"
)

// BenchmarkAuthUnderFlood measures what docs/operations.md#abuse promises while 128
// clients, each from its own loopback address, send wrong secrets for one
// real key id as fast as they can (the attack of issue 13 M4), against the
// same numbers without the flood: the first request of a fresh, valid key
// (argon2id at DefaultParams, the production cost) and requests with a
// cached key. Everything runs in one process over TCP on loopback, with
// the SQLite store, so the flood's HTTP work competes for the same cores.
//
//	go test -run '^$' -bench AuthUnderFlood -benchtime 2000x ./server/api/
//
// Reported: fresh_max_ms and fresh_p50_ms (8 fresh keys), cached_p50_ms
// and cached_p99_ms, and for the flood its requests a second and the share
// of them that cost an argon2id hash (flood_hashes/s).
func BenchmarkAuthUnderFlood(b *testing.B) {
	for _, flood := range []bool{false, true} {
		name := "quiet"
		if flood {
			name = "flood128"
		}
		b.Run(name, func(b *testing.B) { benchAuth(b, flood) })
	}
}

func benchAuth(b *testing.B, flood bool) {
	st, err := sqlitestore.Open(filepath.Join(b.TempDir(), "audit.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	l, err := stigaudit.Open(stigaudit.Options{Store: st, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	hashes := &atomic.Int64{}
	keys := auth.New(st.APIKeys(), auth.Options{Hash: func(secret, salt []byte, p auth.Params, n uint32) []byte {
		hashes.Add(1)
		return argon2.IDKey(secret, salt, p.Time, p.Memory, p.Threads, n)
	}})
	var served atomic.Int64
	e := mount(Config{Log: l, Keys: keys, Logger: quiet}, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		e.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx := context.Background()
	mk := func() string {
		text, _, err := keys.Create(ctx, auth.Spec{Tenant: "acme", EntityURI: "urn:bench", Perms: auth.PermRead})
		if err != nil {
			b.Fatal(err)
		}
		return text
	}
	victim := mk()
	cachedKey := mk()
	fresh := make([]string, 8)
	for i := range fresh {
		fresh[i] = mk()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func(key string) (time.Duration, int) {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/audit?limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(t0), resp.StatusCode
	}
	if _, code := get(cachedKey); code != 200 {
		b.Fatalf("cached key: status %d", code)
	}

	if flood {
		// The attacker is another process, as it would be: its HTTP client
		// work is not scheduled among the server's goroutines (it still
		// shares the machine's two cores).
		cmd := exec.Command(os.Args[0], "-test.run=^TestFloodHelper$")
		cmd.Env = append(os.Environ(), "STIGAUDIT_FLOOD_URL="+srv.URL, "STIGAUDIT_FLOOD_PREFIX="+victim[:len(victim)-52])
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		time.Sleep(2 * time.Second) // the flood is under way
	}
	floodStart, servedStart, hashStart := time.Now(), served.Load(), hashes.Load()

	var freshMs []float64
	for _, k := range fresh {
		d, code := get(k)
		if code != 200 {
			b.Fatalf("fresh key: status %d", code)
		}
		freshMs = append(freshMs, ms(d))
	}
	var lat []float64
	b.ResetTimer()
	for b.Loop() {
		d, code := get(cachedKey)
		if code != 200 {
			b.Fatalf("cached key: status %d", code)
		}
		lat = append(lat, ms(d))
	}
	b.StopTimer()
	elapsed := time.Since(floodStart).Seconds()
	floodRate := float64(served.Load()-servedStart) / elapsed
	hashRate := float64(hashes.Load()-hashStart-int64(len(fresh))) / elapsed // the fresh keys' own hashes are not the flood's

	slices.Sort(freshMs)
	slices.Sort(lat)
	b.ReportMetric(freshMs[len(freshMs)-1], "fresh_max_ms")
	b.ReportMetric(freshMs[len(freshMs)/2], "fresh_p50_ms")
	b.ReportMetric(lat[len(lat)/2], "cached_p50_ms")
	b.ReportMetric(lat[len(lat)*99/100], "cached_p99_ms")
	if flood {
		b.ReportMetric(floodRate, "flood_req/s")
		b.ReportMetric(hashRate, "flood_hashes/s")
	}
	b.Logf("fresh keys (ms): %s", strings.Trim(fmt.Sprint(freshMs), "[]"))
}

// TestFloodHelper is the attacker process of BenchmarkAuthUnderFlood: 128
// clients, each from its own loopback address (127.0.1.2 to 127.0.1.129),
// sending a random secret for one real key id in a loop until killed. It
// does nothing unless the benchmark starts it.
func TestFloodHelper(t *testing.T) {
	url, prefix := os.Getenv("STIGAUDIT_FLOOD_URL"), os.Getenv("STIGAUDIT_FLOOD_PREFIX")
	if url == "" {
		t.Skip("run by BenchmarkAuthUnderFlood")
	}
	var wg sync.WaitGroup
	for i := 0; i < 128; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(i+2))}}
			c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1}}
			buf := make([]byte, 52)
			for {
				_, _ = rand.Read(buf)
				for j := range buf {
					buf[j] = "abcdefghijklmnopqrstuvwxyz234567"[buf[j]%32]
				}
				req, _ := http.NewRequest("GET", url+"/v1/audit", nil)
				req.Header.Set("Authorization", "Bearer "+prefix+string(buf))
				resp, err := c.Do(req)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
