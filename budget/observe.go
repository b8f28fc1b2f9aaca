package budget

import "context"

// Observer is told what a [Ledger] decides and how it combines its
// work, for metrics: set one in [Options.Observer]. Package otelpersist
// implements it with OpenTelemetry. Without one the Ledger does no
// observation work.
//
// Observe is called on the goroutine of the call it reports, after the
// decision or settlement is final. It must be safe for concurrent use and
// quick: a batch's size is reported while its lane waits.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// EventKind says what an [Event] reports.
type EventKind uint8

const (
	// EventAdmitted is a reservation that holds its estimate.
	EventAdmitted EventKind = iota + 1

	// EventDenied is a reservation refused: Tier says which tier's budget
	// it did not fit.
	EventDenied

	// EventFailOpen is a Reserve or Check allowed because the database
	// could not be reached and [Options.FailOpen] is set.
	EventFailOpen

	// EventCommitted is a reservation committed with its cost, Amount.
	EventCommitted

	// EventReleased is a reservation released without a cost.
	EventReleased

	// EventBatch is one transaction of Size reservations and settlements
	// combined.
	EventBatch
)

// String returns "admitted", "denied", "fail_open", "committed",
// "released" or "batch".
func (k EventKind) String() string {
	switch k {
	case EventAdmitted:
		return "admitted"
	case EventDenied:
		return "denied"
	case EventFailOpen:
		return "fail_open"
	case EventCommitted:
		return "committed"
	case EventReleased:
		return "released"
	case EventBatch:
		return "batch"
	}
	return "unknown"
}

// Event is one thing a [Ledger] did. It holds no scope names: they may
// name people.
type Event struct {
	Kind EventKind

	// Op is the Ledger call: "reserve", "check", "commit", "release", or
	// "" for a batch.
	Op string

	// Tier is the widest tier that denied (EventDenied), else zero.
	Tier Tier

	// Amount is the estimate (EventAdmitted, EventDenied, EventFailOpen)
	// or the cost committed (EventCommitted), else zero.
	Amount Micros

	// Held reports, for EventCommitted and EventReleased, that the
	// reservation held budget until now; one allowed by FailOpen held
	// none.
	Held bool

	// Size is the number of operations in a batch (EventBatch).
	Size int
}

// observe reports e, if the Ledger has an Observer.
func (l *Ledger) observe(ctx context.Context, e Event) {
	if l.cfg.obs != nil {
		l.cfg.obs.Observe(ctx, e)
	}
}
