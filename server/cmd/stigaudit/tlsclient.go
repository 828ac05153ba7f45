package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
)

// Flags of the commands that talk to a running server over HTTPS
// (export --server, bench --http): the CA that signed the server's
// certificate, and a client certificate for a server started with
// --client-ca.
const (
	flagCAFile     = "ca-file"
	flagClientCert = "client-cert"
	flagClientKey  = "client-key"
)

// registerClientTLS adds the client TLS flags to fs.
func registerClientTLS(fs *flag.FlagSet) {
	fs.String(flagCAFile, "", "PEM CA certificates to trust for an https:// server, besides the system's (env STIGAUDIT_CA_FILE)")
	fs.String(flagClientCert, "", "PEM client certificate, for a server that requires one (--client-ca) (env STIGAUDIT_CLIENT_CERT)")
	fs.String(flagClientKey, "", "PEM private key of --client-cert (env STIGAUDIT_CLIENT_KEY)")
}

// clientTLS returns the TLS configuration the flags of fs describe, or nil
// when none is set (the system's roots, no client certificate).
func clientTLS(fs *flag.FlagSet) (*tls.Config, error) {
	get := func(name string) string {
		if f := fs.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	caFile, certFile, keyFile := get(flagCAFile), get(flagClientCert), get(flagClientKey)
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flagCAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--%s %s: no PEM certificate in it", flagCAFile, caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("%w: --%s and --%s go together", errUsage, flagClientCert, flagClientKey)
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("--%s/--%s: %w", flagClientCert, flagClientKey, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
