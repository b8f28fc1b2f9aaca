package budget

import "time"

// Decision is the outcome of checking a request against every budget of the
// scopes it names.
type Decision struct {
	// Allowed reports whether the estimate fits every hard limit.
	Allowed bool `json:"allowed"`

	// DeniedBy is the widest tier with a budget the request does not fit,
	// or zero when it is allowed.
	DeniedBy Tier `json:"denied_by,omitempty"`

	// Estimate is the amount the request asked for.
	Estimate Micros `json:"estimate_micros"`

	// Budgets reports each budget that applies, widest tier first and, within
	// a scope, in the order the budgets were set.
	Budgets []Status `json:"budgets"`

	// FailOpen reports that the database could not be reached and the
	// request was allowed anyway because [Options.FailOpen] is set. Budgets
	// is empty then.
	FailOpen bool `json:"fail_open,omitempty"`
}

// Status is one budget's state as a decision saw it, before the request's
// own hold.
type Status struct {
	Scope       Scope     `json:"scope"`
	Period      Period    `json:"period"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	Limit       Micros    `json:"limit_micros"`
	Soft        Micros    `json:"soft_micros,omitempty"`
	Spent       Micros    `json:"spent_micros"`    // committed
	Reserved    Micros    `json:"reserved_micros"` // held by live reservations
	Remaining   Micros    `json:"remaining_micros"`

	// Exceeded reports that the estimate does not fit: it is more than
	// Remaining (for a zero estimate: nothing remains).
	Exceeded bool `json:"exceeded,omitempty"`

	// SoftCrossed reports that spent, reserved and the estimate together
	// reach the soft threshold: the request is allowed, with a warning.
	SoftCrossed bool `json:"soft_crossed,omitempty"`
}

// Remaining returns the least amount remaining among tier's budgets, and
// false when the decision has no budget at that tier.
func (d Decision) Remaining(tier Tier) (Micros, bool) {
	var min Micros
	found := false
	for _, s := range d.Budgets {
		if s.Scope.Tier == tier && (!found || s.Remaining < min) {
			min, found = s.Remaining, true
		}
	}
	return min, found
}

// Warnings returns the budgets whose soft threshold the request crosses.
func (d Decision) Warnings() []Status {
	var w []Status
	for _, s := range d.Budgets {
		if s.SoftCrossed {
			w = append(w, s)
		}
	}
	return w
}

// finish sets Allowed and DeniedBy from the statuses.
func (d *Decision) finish() {
	d.Allowed, d.DeniedBy = true, 0
	for _, s := range d.Budgets {
		if s.Exceeded && (d.DeniedBy == 0 || s.Scope.Tier < d.DeniedBy) {
			d.Allowed, d.DeniedBy = false, s.Scope.Tier
		}
	}
}
