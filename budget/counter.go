package budget

import (
	"encoding/json"
	"fmt"

	"github.com/persistkit/persist"
)

// counter is the stored spend of one budget in one period: the record
// "tier/period/start/scope" in the counters table. Holds groups live
// reservations by expiry (Unix seconds); an expired group is dropped by the
// next write, which is how a crashed process's holds return to the budget.
type counter struct {
	Tier     string           `json:"tier"`
	Scope    string           `json:"scope"`
	Period   string           `json:"period"`
	Start    int64            `json:"start"`
	Spent    Micros           `json:"spent"`
	Reserved Micros           `json:"reserved"` // sum of Holds at the last write, for people reading the table
	Holds    map[int64]Micros `json:"holds,omitempty"`
}

func newCounter(t target) *counter {
	return &counter{
		Tier:   t.budget.Scope.Tier.String(),
		Scope:  t.budget.Scope.ID,
		Period: t.budget.Period.key(),
		Start:  t.start.Unix(),
	}
}

func decodeCounter(table string, rec persist.Record) (*counter, error) {
	var c counter
	if err := json.Unmarshal(rec.Data, &c); err != nil {
		return nil, &persist.Error{Op: "get", Table: table, ID: rec.ID, Err: fmt.Errorf("%w: budget counter: %v", persist.ErrInvalid, err)}
	}
	return &c, nil
}

func (c *counter) encode() (json.RawMessage, error) { return json.Marshal(c) }

// live is the amount held by holds not yet expired at now.
func (c *counter) live(now int64) Micros {
	var sum Micros
	for exp, amt := range c.Holds {
		if exp > now {
			sum = satAdd(sum, amt)
		}
	}
	return sum
}

// reclaim drops the holds expired at now.
func (c *counter) reclaim(now int64) {
	for exp := range c.Holds {
		if exp <= now {
			delete(c.Holds, exp)
		}
	}
	c.Reserved = c.live(now)
}

// hold adds amt to the holds expiring at exp.
func (c *counter) hold(exp int64, amt Micros, now int64) {
	if c.Holds == nil {
		c.Holds = make(map[int64]Micros)
	}
	c.Holds[exp] = satAdd(c.Holds[exp], amt)
	c.Reserved = c.live(now)
}

// unhold removes amt from the holds expiring at exp. If the group is gone
// it was reclaimed as expired, and with it this hold: there is nothing left
// to remove. A group is never smaller than the unsettled holds in it, so the
// clamp only matters if clocks disagree by more than the TTL.
func (c *counter) unhold(exp int64, amt Micros, now int64) {
	if h, ok := c.Holds[exp]; ok {
		h -= min(h, amt)
		if h == 0 {
			delete(c.Holds, exp)
		} else {
			c.Holds[exp] = h
		}
	}
	c.Reserved = c.live(now)
}

// status evaluates est against t's budget given the counter's state at now.
func (t target) status(c *counter, now int64, est Micros) Status {
	b := t.budget
	s := Status{
		Scope: b.Scope, Period: b.Period, PeriodStart: t.start, PeriodEnd: t.end,
		Limit: b.Limit, Soft: b.Soft, Spent: c.Spent, Reserved: c.live(now),
	}
	used := satAdd(s.Spent, s.Reserved)
	if used < b.Limit {
		s.Remaining = b.Limit - used
	}
	s.Exceeded = est > s.Remaining || (est == 0 && s.Remaining == 0)
	s.SoftCrossed = b.Soft > 0 && satAdd(used, est) >= b.Soft
	return s
}
