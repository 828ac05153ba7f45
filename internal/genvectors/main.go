// Command genvectors writes the test vectors of the audit core into
// core/testdata: jcs.json, canonical.json, classify.json, merge.json,
// invalid.json, catalogue.json and numbers.json.
//
// Each file is self-describing — a description, then cases that name their
// inputs and the expected bytes or error code — so that every host of the
// core (native Go, wazero, Node, the browser) can replay the same files. The
// inputs live in this command's source; the expected outputs are computed
// by the core itself, so the files record what the code does. They are
// checked two ways: a test fails when the checked-in files differ from what
// this command would write (drift), and the packages' own tests pin
// independently derived values (RFC 8785's published examples, a leaf hash
// computed with sha256sum) so that the generator is never the only judge.
//
// Usage, from the module root:
//
//	go run ./internal/genvectors          # rewrite core/testdata/*.json
//	go run ./internal/genvectors -check   # exit 1 if any file would change
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	dir := flag.String("dir", "", "output directory (default: core/testdata of the enclosing module)")
	check := flag.Bool("check", false, "report files that would change and exit 1, writing nothing")
	flag.Parse()
	if *dir == "" {
		root, err := moduleRoot()
		if err != nil {
			fatal(err)
		}
		*dir = filepath.Join(root, "core", "testdata")
	}
	files, err := generate()
	if err != nil {
		fatal(err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	stale := 0
	for _, name := range names {
		path := filepath.Join(*dir, name)
		old, _ := os.ReadFile(path)
		if bytes.Equal(old, files[name]) {
			continue
		}
		stale++
		if *check {
			fmt.Fprintf(os.Stderr, "genvectors: %s is out of date\n", path)
			continue
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			fatal(err)
		}
		fmt.Fprintf(os.Stderr, "genvectors: wrote %s\n", path)
	}
	if *check && stale > 0 {
		os.Exit(1)
	}
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "genvectors:", err)
	os.Exit(1)
}
