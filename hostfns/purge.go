package hostfns

// PurgeRange is what a retention purge plans for one tenant: the number of
// its live events older than the cutoff and the seq range they lie in.
type PurgeRange struct {
	Tenant            string
	Count             int64
	FirstSeq, LastSeq int64
}
