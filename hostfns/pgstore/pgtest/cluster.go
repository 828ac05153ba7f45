package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Cluster is a PostgreSQL server of the test's own: a data directory made
// by initdb in a temporary directory, listening on a free port of
// 127.0.0.1 only (and on a Unix socket in that directory), with trust
// authentication for the user postgres. Tests stop and start it to
// simulate outages; the machine's shared server is never touched. It is
// stopped and removed when the test ends.
type Cluster struct {
	// Port is the TCP port it listens on.
	Port int
	// Dir holds the data directory, the socket and the server log.
	Dir string

	t      testing.TB
	bin    string // directory of initdb, pg_ctl
	runAs  string // user to run the server binaries as ("" = this one)
	data   string
	logf   string
	mu     sync.Mutex
	online bool
}

// NewCluster creates and starts a cluster. Without initdb (searched in
// /usr/lib/postgresql/*/bin, then PATH) the test is skipped, or fails
// with EnvRequire=1. Running as root, the server runs as the user
// postgres (initdb refuses root), through runuser.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := serverBin()
	if bin == "" {
		skip(t, "PostgreSQL cluster test skipped: no initdb in /usr/lib/postgresql/*/bin or PATH (install postgresql)")
	}
	c := &Cluster{t: t, bin: bin}
	dir, err := os.MkdirTemp("", "stigaudit-pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	c.Dir, c.data, c.logf = dir, filepath.Join(dir, "data"), filepath.Join(dir, "server.log")
	t.Cleanup(func() {
		c.stop("immediate")
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			skip(t, "PostgreSQL cluster test skipped: running as root and there is no user postgres to run initdb as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.runAs = "postgres"
	}
	if out, err := c.run("initdb", "-D", c.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	c.Port = freePort(t)
	conf := fmt.Sprintf("\n# pgtest\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nmax_connections = 100\nlog_connections = on\n",
		c.Port, dir)
	f, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(conf); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	c.Start()
	return c
}

// DSN returns the URL of the cluster's database postgres.
func (c *Cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if out, err := c.run("pg_ctl", "-D", c.data, "-l", c.logf, "-w", "-t", "120", "start"); err != nil {
		c.t.Fatalf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, c.Log())
	}
	c.online = true
}

// Stop stops the server (fast shutdown: sessions are ended, their
// transactions rolled back, the server checkpoints) and waits until it has
// exited.
func (c *Cluster) Stop() {
	c.t.Helper()
	if err := c.stop("fast"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *Cluster) stop(mode string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.online {
		return nil
	}
	if out, err := c.run("pg_ctl", "-D", c.data, "-m", mode, "-w", "-t", "120", "stop"); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	c.online = false
	return nil
}

// Log returns the server's log so far.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(c.logf)
	return string(b)
}

// run runs one of the server's programs, as c.runAs if set, in c.Dir.
func (c *Cluster) run(prog string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, prog)
	var cmd *exec.Cmd
	if c.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd.CombinedOutput()
}

// serverBin returns the directory of the newest installed initdb, or "".
func serverBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// version is the major version in /usr/lib/postgresql/<v>/bin.
func version(dir string) int {
	v, _ := strconv.Atoi(strings.Split(filepath.Base(filepath.Dir(dir)), ".")[0])
	return v
}

// freePort returns a TCP port of 127.0.0.1 that nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if port != 5432 || time.Now().After(deadline) {
			return port
		}
	}
}
