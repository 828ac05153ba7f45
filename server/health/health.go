package health

import (
	"context"
	"fmt"
	"syscall"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// Check is one readiness condition.
type Check struct {
	// Name identifies the check in /readyz answers: "store", "disk", ...
	Name string
	// Run returns nil when the condition holds, else why not. It must be
	// quick (a stat, a ping): probes call it every few seconds.
	Run func(ctx context.Context) error
}

// Failure is a check that did not hold.
type Failure struct {
	Check string `json:"check"`
	Err   error  `json:"-"`
}

// Run runs every check and returns those that failed, in order.
func Run(ctx context.Context, checks []Check) []Failure {
	var out []Failure
	for _, c := range checks {
		if err := c.Run(ctx); err != nil {
			out = append(out, Failure{Check: c.Name, Err: err})
		}
	}
	return out
}

// DefaultMinFree is the free space below which the disk check fails: a
// commit that needs more fails, and an operator should know before.
const DefaultMinFree = 64 << 20

// DiskFree is the check that the filesystem holding path has at least min
// bytes free for an unprivileged writer.
func DiskFree(path string, min uint64) Check {
	return Check{Name: "disk", Run: func(context.Context) error {
		free, err := Free(path)
		if err != nil {
			return auditerr.Errorf(auditerr.ErrStoreUnavailable, "cannot read the free space of %s: %v", path, err)
		}
		if free < min {
			return auditerr.Errorf(auditerr.ErrStoreUnavailable, "%s has %d MiB free, below the margin of %d MiB (--min-free-disk)", path, free>>20, min>>20)
		}
		return nil
	}}
}

// Free returns the bytes available to an unprivileged writer on the
// filesystem holding path.
func Free(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}
