package budget

import (
	"errors"
	"fmt"
	"strings"

	"github.com/persistkit/persist"
)

// Sentinel errors. Callers branch on them with [errors.Is].
var (
	// ErrExceeded means a request does not fit a hard limit. Reserve
	// returns it as an [*ExceededError] carrying the [Decision]; a
	// gateway answers 429.
	ErrExceeded = errors.New("budget exceeded")

	// ErrNoBudget means none of the scopes a request names has a budget.
	// Such a request is refused rather than admitted without limit, so a
	// misspelt or unprovisioned scope cannot spend freely. It also matches
	// [persist.ErrInvalid].
	ErrNoBudget error = &kindError{msg: "no budget for any named scope", also: persist.ErrInvalid}

	// ErrOverflow means an amount or a sum of amounts does not fit in
	// [Micros]. It also matches [persist.ErrInvalid].
	ErrOverflow error = &kindError{msg: "amount out of range", also: persist.ErrInvalid}

	// ErrUnavailable is [persist.ErrUnavailable], repeated here so a
	// gateway needs one import: the database could not be reached and the
	// ledger fails closed (see [Options.FailOpen]). Map it to 503.
	ErrUnavailable = persist.ErrUnavailable
)

// kindError is a sentinel that also matches a wider one, so that callers
// testing for persist.ErrInvalid see every kind of bad input.
type kindError struct {
	msg  string
	also error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.also }

// ExceededError is the error Reserve returns when a request does not fit:
// it matches [ErrExceeded] and carries the [Decision], which names the tier
// that denied the request and what remains at every tier.
type ExceededError struct {
	Decision Decision
}

// Error describes every budget the request would exceed.
func (e *ExceededError) Error() string {
	var b strings.Builder
	b.WriteString("budget: reserve ")
	b.WriteString(e.Decision.Estimate.String())
	b.WriteString(": ")
	b.WriteString(ErrExceeded.Error())
	n := 0
	for _, s := range e.Decision.Budgets {
		if !s.Exceeded {
			continue
		}
		if n == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		n++
		fmt.Fprintf(&b, "%s %s limit %s, spent %s, reserved %s, remaining %s",
			s.Scope, s.Period, s.Limit, s.Spent, s.Reserved, s.Remaining)
	}
	return b.String()
}

// Is reports whether target is [ErrExceeded].
func (e *ExceededError) Is(target error) bool { return target == ErrExceeded }

// invalid returns an error matching persist.ErrInvalid for op.
func invalid(op, format string, args ...any) error {
	return fmt.Errorf("budget: %s: %w: %s", op, persist.ErrInvalid, fmt.Sprintf(format, args...))
}
