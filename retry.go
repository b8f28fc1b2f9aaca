package persist

import "time"

// RetryPolicy says how a backend retries an operation that failed with a
// transient error (see [IsTransient]). Writes are retried only when the
// driver can tell the statement never reached the server or the transaction
// was rolled back as a whole; a write whose outcome is unknown is never
// retried.
type RetryPolicy struct {
	// MaxAttempts is the total number of tries, the first included.
	// Default 3; 1 disables retries.
	MaxAttempts int

	// BaseDelay is the first backoff; each later one doubles, with full
	// jitter. Default 20ms.
	BaseDelay time.Duration

	// MaxDelay caps one backoff. Default 1s.
	MaxDelay time.Duration
}

// DefaultRetryPolicy is used when [Options.Retry] is nil.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 3, BaseDelay: 20 * time.Millisecond, MaxDelay: time.Second}

// WithDefaults returns p with its zero fields set from [DefaultRetryPolicy].
// A nil p gives the default policy.
func (p *RetryPolicy) WithDefaults() RetryPolicy {
	if p == nil {
		return DefaultRetryPolicy
	}
	r := *p
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = DefaultRetryPolicy.MaxAttempts
	}
	if r.BaseDelay <= 0 {
		r.BaseDelay = DefaultRetryPolicy.BaseDelay
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = DefaultRetryPolicy.MaxDelay
	}
	return r
}
