package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// mkdirTemp makes a fresh directory for one cell under base.
func mkdirTemp(base, name string) (string, error) {
	slug := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	dir, err := os.MkdirTemp(base, "peers-"+slug+"-")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	return dir, nil
}

// removeAll removes a cell's directory; a failure only leaves files behind.
func removeAll(dir string) {
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(os.Stderr, "peers: %v\n", err)
	}
}

// tmpfsMagic is TMPFS_MAGIC from linux/magic.h.
const tmpfsMagic = 0x01021994

// checkDisk refuses a base directory on tmpfs: fsync there costs nothing,
// and the comparison would measure memory instead of the disk.
func checkDisk(base string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(base, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", base, err)
	}
	if st.Type == tmpfsMagic {
		return fmt.Errorf("%s is on tmpfs: fsync would cost nothing there; pass --dir on a real disk", base)
	}
	return nil
}
