package budget

import (
	"context"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
)

// Usage describes one completed model call for the cost ledger.
type Usage struct {
	// RequestID identifies the call; recording the same id twice is a
	// no-op, so a retried Record cannot double count.
	RequestID string

	Scopes    Scopes
	Model     string
	TokensIn  int64
	TokensOut int64
	Cost      Micros

	// Time is when the call was made; zero means now.
	Time time.Time
}

// requestDoc is one row of the requests table.
type requestDoc struct {
	Org       string    `json:"org,omitempty"`
	Team      string    `json:"team,omitempty"`
	Principal string    `json:"principal,omitempty"`
	Model     string    `json:"model"`
	TokensIn  int64     `json:"tokens_in"`
	TokensOut int64     `json:"tokens_out"`
	Cost      Micros    `json:"cost_micros"`
	Time      time.Time `json:"time"`
}

// MaxModelLen is the longest model name [Ledger.Record] accepts, in bytes.
const MaxModelLen = 256

// Record appends u to the requests table (see [Options.RequestsTable]), the
// cost ledger that reports and invoices are built from. It is idempotent by
// u.RequestID: if a row with that id exists, Record does nothing and
// returns nil, even if the fields differ (the first write wins).
//
// Record does not touch budgets: [Reservation.Commit] charges them, so
// Record can never weaken a hard limit however it is called. Bad input (an
// invalid request id or scope, negative tokens or cost, a model name that
// is not short valid UTF-8) matches [persist.ErrInvalid] and writes nothing.
func (l *Ledger) Record(ctx context.Context, u Usage) error {
	const op = "record"
	if u.RequestID == "" {
		return invalid(op, "request id is empty")
	}
	if err := ident.ID(u.RequestID); err != nil {
		return invalid(op, "request id: %v", err)
	}
	if _, err := u.Scopes.list(); err != nil {
		return err
	}
	if u.TokensIn < 0 || u.TokensOut < 0 {
		return invalid(op, "request %s: negative token count", u.RequestID)
	}
	if u.Cost < 0 {
		return invalid(op, "request %s: negative cost %s", u.RequestID, u.Cost)
	}
	if len(u.Model) > MaxModelLen || !utf8.ValidString(u.Model) {
		return invalid(op, "request %s: model name is not valid UTF-8 of at most %d bytes", u.RequestID, MaxModelLen)
	}
	for _, r := range u.Model {
		if r < 0x20 || r == 0x7f {
			return invalid(op, "request %s: model name contains control character %U", u.RequestID, r)
		}
	}
	t := u.Time
	if t.IsZero() {
		t = l.cfg.clock()
	}
	data, err := json.Marshal(requestDoc{
		Org: u.Scopes.Org, Team: u.Scopes.Team, Principal: u.Scopes.Principal,
		Model: u.Model, TokensIn: u.TokensIn, TokensOut: u.TokensOut, Cost: u.Cost,
		Time: t.UTC().Truncate(time.Microsecond),
	})
	if err != nil {
		return wrap(op, err)
	}
	rs, err := l.db.Store(l.cfg.requests)
	if err != nil {
		return wrap(op, err)
	}
	if _, err := rs.Insert(ctx, persist.Record{ID: u.RequestID, Data: data}); err != nil && !errors.Is(err, persist.ErrConflict) {
		return wrap(op, err)
	}
	return nil
}
