package query

import "github.com/persistkit/persist"

// Pager assembles a FindPage result. A backend reads Limit+1 rows in the
// query's order and hands each to Add: the extra row only tells that a
// record follows, so Next is set from the last record kept, and stays
// empty when none follows.
type Pager struct {
	spec    *Spec
	page    persist.Page
	lastSeq int64
}

// Pager returns an empty page for s.
func (s *Spec) Pager() *Pager { return &Pager{spec: s} }

// Add takes the next row and reports whether the backend should read
// another: false once the page is full and Next is set.
func (p *Pager) Add(rec persist.Record, seq int64) bool {
	if len(p.page.Records) == p.spec.Limit {
		last := p.page.Records[len(p.page.Records)-1]
		p.page.Next = p.spec.Cursor(last.Data, p.lastSeq)
		return false
	}
	p.page.Records = append(p.page.Records, rec)
	p.lastSeq = seq
	return true
}

// Page returns the page assembled so far.
func (p *Pager) Page() persist.Page { return p.page }
