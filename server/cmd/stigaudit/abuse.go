package main

import (
	"flag"
	"fmt"

	"github.com/stigaudit/stigaudit/server/stream"
)

// abuseFlags are serve's limits on what one client may cost (docs/operations.md#abuse
// "Abuse costs the abuser").
type abuseFlags struct {
	rateLimit        float64
	streamsPerKey    int
	streamsPerTenant int
}

func (f *abuseFlags) register(fs *flag.FlagSet) {
	fs.Float64Var(&f.rateLimit, "rate-limit", 0,
		"most requests a second from one source address (an IPv4 address or IPv6 /64), beyond which requests get 429 with Retry-After; 0 is off (env STIGAUDIT_RATE_LIMIT)")
	fs.IntVar(&f.streamsPerKey, "max-streams-per-key", stream.DefaultMaxPerKey, "live streams one API key may hold open (env STIGAUDIT_MAX_STREAMS_PER_KEY)")
	fs.IntVar(&f.streamsPerTenant, "max-streams-per-tenant", stream.DefaultMaxPerTenant, "live streams the keys of one tenant may hold open (env STIGAUDIT_MAX_STREAMS_PER_TENANT)")
}

// check refuses settings that turn a limit off by accident.
func (f *abuseFlags) check() error {
	if f.rateLimit < 0 {
		return fmt.Errorf("%w: --rate-limit must be 0 (off) or positive, not %v", errUsage, f.rateLimit)
	}
	if f.streamsPerKey < 1 || f.streamsPerKey > stream.DefaultMaxReaders {
		return fmt.Errorf("%w: --max-streams-per-key must be from 1 to %d, not %d", errUsage, stream.DefaultMaxReaders, f.streamsPerKey)
	}
	if f.streamsPerTenant < f.streamsPerKey || f.streamsPerTenant > stream.DefaultMaxReaders {
		return fmt.Errorf("%w: --max-streams-per-tenant must be from --max-streams-per-key (%d) to %d, not %d", errUsage, f.streamsPerKey, stream.DefaultMaxReaders, f.streamsPerTenant)
	}
	return nil
}

// hubOptions are the stream caps of the flags.
func (f *abuseFlags) hubOptions() stream.HubOptions {
	return stream.HubOptions{MaxPerKey: f.streamsPerKey, MaxPerTenant: f.streamsPerTenant}
}
