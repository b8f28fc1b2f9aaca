package budget

import (
	"fmt"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
)

// Options configure a [Ledger]. A nil *Options means the defaults.
type Options struct {
	// FailOpen admits requests when the database cannot be reached
	// (errors matching [ErrUnavailable]): Check and Reserve then return an
	// allowed [Decision] with FailOpen set, and the reservation's Commit
	// charges the spend if the database is back by then. The default,
	// false, fails closed: those calls return the error, which a gateway
	// maps to 503.
	FailOpen bool

	// ReservationTTL is how long a reservation holds budget without being
	// committed or released. After it, the hold is reclaimed lazily by the
	// next write to the same counter, so a crashed process cannot hold
	// budget forever. Holds expire up to an eighth of the TTL late, since
	// they are grouped by expiry. Default 5 minutes; it is rounded up to
	// whole seconds.
	ReservationTTL time.Duration

	// Clock returns the current time. Default [time.Now]. Tests set it to
	// move across period boundaries and past expiries.
	Clock func() time.Time

	// Prefix starts the names of the ledger's own tables: Prefix+"limits",
	// Prefix+"counters" and Prefix+"holds". Default "budget_".
	Prefix string

	// RequestsTable is the table [Ledger.Record] writes to. Default
	// "llm_requests".
	RequestsTable string

	// Observer, when set, is told of every decision, settlement and batch
	// (see [Observer]). Nil (the default) observes nothing.
	Observer Observer
}

// DefaultReservationTTL is the default [Options.ReservationTTL].
const DefaultReservationTTL = 5 * time.Minute

type config struct {
	failOpen bool
	ttl      int64 // seconds
	bucket   int64 // seconds; holds are grouped by expiry in buckets this wide
	clock    func() time.Time
	limits   string
	counters string
	holds    string
	requests string
	obs      Observer
}

func (o *Options) config() (config, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	c := config{failOpen: opts.FailOpen, clock: opts.Clock, obs: opts.Observer}
	if c.clock == nil {
		c.clock = time.Now
	}
	ttl := opts.ReservationTTL
	if ttl < 0 {
		return config{}, fmt.Errorf("budget: options: %w: negative ReservationTTL %v", persist.ErrInvalid, ttl)
	}
	if ttl == 0 {
		ttl = DefaultReservationTTL
	}
	if ttl > 366*24*time.Hour {
		return config{}, fmt.Errorf("budget: options: %w: ReservationTTL %v is more than a year", persist.ErrInvalid, ttl)
	}
	c.ttl = int64((ttl + time.Second - 1) / time.Second)
	c.bucket = (c.ttl + 7) / 8
	prefix := opts.Prefix
	if prefix == "" {
		prefix = "budget_"
	}
	c.limits, c.counters, c.holds = prefix+"limits", prefix+"counters", prefix+"holds"
	c.requests = opts.RequestsTable
	if c.requests == "" {
		c.requests = "llm_requests"
	}
	for _, name := range []string{c.limits, c.counters, c.holds, c.requests} {
		if err := ident.Table(name); err != nil {
			return config{}, fmt.Errorf("budget: options: %w: %v", persist.ErrInvalid, err)
		}
	}
	if c.requests == c.limits || c.requests == c.counters || c.requests == c.holds {
		return config{}, fmt.Errorf("budget: options: %w: RequestsTable %q is one of the ledger's own tables", persist.ErrInvalid, c.requests)
	}
	return c, nil
}
