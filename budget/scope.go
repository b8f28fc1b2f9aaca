package budget

import (
	"fmt"
	"strconv"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
)

// Tier is a level of the budget hierarchy. Every request names its scope at
// one or more tiers, and must fit the budgets of all of them.
type Tier uint8

// The three tiers, from the widest to the narrowest.
const (
	Org       Tier = 1 // an organization
	Team      Tier = 2 // a team within an organization
	Principal Tier = 3 // a user or an API key
)

// String returns "org", "team" or "principal".
func (t Tier) String() string {
	switch t {
	case Org:
		return "org"
	case Team:
		return "team"
	case Principal:
		return "principal"
	}
	return "tier(" + strconv.Itoa(int(t)) + ")"
}

// MarshalText encodes the tier as [Tier.String] does.
func (t Tier) MarshalText() ([]byte, error) {
	if !t.valid() {
		return nil, fmt.Errorf("budget: %w: tier %d", persist.ErrInvalid, uint8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText decodes "org", "team" or "principal".
func (t *Tier) UnmarshalText(b []byte) error {
	switch string(b) {
	case "org":
		*t = Org
	case "team":
		*t = Team
	case "principal":
		*t = Principal
	default:
		return fmt.Errorf("budget: %w: tier %s: want org, team or principal", persist.ErrInvalid, strconv.Quote(truncate(string(b))))
	}
	return nil
}

func (t Tier) valid() bool { return t >= Org && t <= Principal }

// MaxScopeIDLen is the longest scope id, in bytes.
const MaxScopeIDLen = 256

// Scope names one organization, team or principal. IDs are global within
// their tier: if two organizations may both have a team called "ml", give
// the teams distinct ids, such as "acme/ml".
type Scope struct {
	Tier Tier   `json:"tier"`
	ID   string `json:"id"`
}

// String returns "tier/id", as in "org/acme".
func (s Scope) String() string { return s.Tier.String() + "/" + s.ID }

func (s Scope) validate() error {
	if !s.Tier.valid() {
		return fmt.Errorf("budget: scope %s: %w: unknown tier", strconv.Quote(truncate(s.String())), persist.ErrInvalid)
	}
	if s.ID == "" {
		return fmt.Errorf("budget: %s scope: %w: id is empty", s.Tier, persist.ErrInvalid)
	}
	if err := ident.ID(s.ID); err != nil {
		return fmt.Errorf("budget: %s scope: %w: %v", s.Tier, persist.ErrInvalid, err)
	}
	if len(s.ID) > MaxScopeIDLen {
		return fmt.Errorf("budget: %s scope: %w: id is %d bytes, more than %d", s.Tier, persist.ErrInvalid, len(s.ID), MaxScopeIDLen)
	}
	return nil
}

// Scopes names a request's scope at each tier. An empty field omits that
// tier; at least one must be set.
type Scopes struct {
	Org       string `json:"org,omitempty"`
	Team      string `json:"team,omitempty"`
	Principal string `json:"principal,omitempty"`
}

// list returns the named scopes, widest tier first, or an error matching
// [persist.ErrInvalid].
func (s Scopes) list() ([]Scope, error) {
	out := make([]Scope, 0, 3)
	for _, sc := range [...]Scope{{Org, s.Org}, {Team, s.Team}, {Principal, s.Principal}} {
		if sc.ID == "" {
			continue
		}
		if err := sc.validate(); err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("budget: %w: no scope named; set at least one of org, team and principal", persist.ErrInvalid)
	}
	return out, nil
}
